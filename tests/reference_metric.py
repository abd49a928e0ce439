"""Test oracle: a literal, loop-based port of the AVVP-ECCV20 evaluation.

Ported from utils/eval_metrics.py (segment_level, event_level, extract_event,
event_wise_metric) and eval() of main_avvp.py, commit fde5611, as specified in
docs/metric.md. Kept deliberately close to the original (per-video loops, Python
``sum``, float64 matrices) so that it can judge the vectorised vplan_core.evaluation.metrics.
Only pandas is replaced by the csv module; row filtering keeps the file order.
Used only by tests and the benchmark.
"""
from __future__ import annotations

import csv

import numpy as np

CATEGORIES = ['Speech', 'Car', 'Cheering', 'Dog', 'Cat', 'Frying_(food)',
              'Basketball_bounce', 'Fire_alarm', 'Chainsaw', 'Cello', 'Banjo',
              'Singing', 'Chicken_rooster', 'Violin_fiddle', 'Vacuum_cleaner',
              'Baby_laughter', 'Accordion', 'Lawn_mower', 'Motorcycle', 'Helicopter',
              'Acoustic_guitar', 'Telephone_bell_ringing', 'Baby_cry_infant_cry', 'Blender',
              'Clapping']
id_to_idx = {id: index for index, id in enumerate(CATEGORIES)}


def _f_scores(TP_a, FP_a, FN_a, TP_v, FP_v, FN_v, TP_av, FP_av, FN_av):
    """The shared tail of segment_level and event_level (identical code in both)."""
    TP = TP_a + TP_v
    FN = FN_a + FN_v
    FP = FP_a + FP_v

    n = len(FP_a)
    F_a = []
    for ii in range(n):
        if (TP_a + FP_a)[ii] != 0 or (TP_a + FN_a)[ii] != 0:
            F_a.append(2 * TP_a[ii] / (2 * TP_a[ii] + (FN_a + FP_a)[ii]))

    F_v = []
    for ii in range(n):
        if (TP_v + FP_v)[ii] != 0 or (TP_v + FN_v)[ii] != 0:
            F_v.append(2 * TP_v[ii] / (2 * TP_v[ii] + (FN_v + FP_v)[ii]))

    F = []
    for ii in range(n):
        if (TP + FP)[ii] != 0 or (TP + FN)[ii] != 0:
            F.append(2 * TP[ii] / (2 * TP[ii] + (FN + FP)[ii]))

    F_av = []
    for ii in range(n):
        if (TP_av + FP_av)[ii] != 0 or (TP_av + FN_av)[ii] != 0:
            F_av.append(2 * TP_av[ii] / (2 * TP_av[ii] + (FN_av + FP_av)[ii]))

    if len(F_a) == 0:
        f_a = 1.0  # all true negatives
    else:
        f_a = (sum(F_a) / len(F_a))

    if len(F_v) == 0:
        f_v = 1.0  # all true negatives
    else:
        f_v = (sum(F_v) / len(F_v))

    if len(F) == 0:
        f = 1.0  # all true negatives
    else:
        f = (sum(F) / len(F))
    if len(F_av) == 0:
        f_av = 1.0  # all true negatives
    else:
        f_av = (sum(F_av) / len(F_av))

    return f_a, f_v, f, f_av


def segment_level(SO_a, SO_v, SO_av, GT_a, GT_v, GT_av):
    """Per-video segment-level F (matrices are C x T)."""
    TP_a = np.sum(SO_a * GT_a, axis=1)
    FN_a = np.sum((1 - SO_a) * GT_a, axis=1)
    FP_a = np.sum(SO_a * (1 - GT_a), axis=1)

    TP_v = np.sum(SO_v * GT_v, axis=1)
    FN_v = np.sum((1 - SO_v) * GT_v, axis=1)
    FP_v = np.sum(SO_v * (1 - GT_v), axis=1)

    TP_av = np.sum(SO_av * GT_av, axis=1)
    FN_av = np.sum((1 - SO_av) * GT_av, axis=1)
    FP_av = np.sum(SO_av * (1 - GT_av), axis=1)

    return _f_scores(TP_a, FP_a, FN_a, TP_v, FP_v, FN_v, TP_av, FP_av, FN_av)


def to_vec(start, end):
    x = np.zeros(10)
    for i in range(start, end):
        x[i] = 1
    return x


def extract_event(seq, n):
    x = []
    i = 0
    while i < 10:
        if seq[i] == 1:
            start = i
            if i + 1 == 10:
                i = i + 1
                end = i
                x.append(to_vec(start, end))
                break

            for j in range(i + 1, 10):
                if seq[j] != 1:
                    i = j + 1
                    end = j
                    x.append(to_vec(start, end))
                    break
                else:
                    i = j + 1
                    if i == 10:
                        end = i
                        x.append(to_vec(start, end))
                        break
        else:
            i += 1
    return x


def event_wise_metric(event_p, event_gt):
    TP = 0
    FP = 0
    FN = 0

    if event_p is not None:
        num_event = len(event_p)
        for i in range(num_event):
            x1 = event_p[i]
            if event_gt is not None:
                nn = len(event_gt)
                flag = True
                for j in range(nn):
                    x2 = event_gt[j]
                    if np.sum(x1 * x2) >= 0.5 * np.sum(x1 + x2 - x1 * x2):  # 0.5
                        TP += 1
                        flag = False
                        break
                if flag:
                    FP += 1
            else:
                FP += 1

    if event_gt is not None:
        num_event = len(event_gt)
        for i in range(num_event):
            x1 = event_gt[i]
            if event_p is not None:
                nn = len(event_p)
                flag = True
                for j in range(nn):
                    x2 = event_p[j]
                    if np.sum(x1 * x2) >= 0.5 * np.sum(x1 + x2 - x1 * x2):  # 0.5
                        flag = False
                        break
                if flag:
                    FN += 1
            else:
                FN += 1
    return TP, FP, FN


def event_level(SO_a, SO_v, SO_av, GT_a, GT_v, GT_av):
    """Per-video event-level F (matrices are C x T)."""
    N = 25
    event_p_a = [None for n in range(25)]
    event_gt_a = [None for n in range(25)]
    event_p_v = [None for n in range(25)]
    event_gt_v = [None for n in range(25)]
    event_p_av = [None for n in range(25)]
    event_gt_av = [None for n in range(25)]

    TP_a = np.zeros(25)
    TP_v = np.zeros(25)
    TP_av = np.zeros(25)

    FP_a = np.zeros(25)
    FP_v = np.zeros(25)
    FP_av = np.zeros(25)

    FN_a = np.zeros(25)
    FN_v = np.zeros(25)
    FN_av = np.zeros(25)

    for n in range(N):
        seq_pred = SO_a[n, :]
        if np.sum(seq_pred) != 0:
            x = extract_event(seq_pred, n)
            event_p_a[n] = x
        seq_gt = GT_a[n, :]
        if np.sum(seq_gt) != 0:
            x = extract_event(seq_gt, n)
            event_gt_a[n] = x

        seq_pred = SO_v[n, :]
        if np.sum(seq_pred) != 0:
            x = extract_event(seq_pred, n)
            event_p_v[n] = x
        seq_gt = GT_v[n, :]
        if np.sum(seq_gt) != 0:
            x = extract_event(seq_gt, n)
            event_gt_v[n] = x

        seq_pred = SO_av[n, :]
        if np.sum(seq_pred) != 0:
            x = extract_event(seq_pred, n)
            event_p_av[n] = x

        seq_gt = GT_av[n, :]
        if np.sum(seq_gt) != 0:
            x = extract_event(seq_gt, n)
            event_gt_av[n] = x

        tp, fp, fn = event_wise_metric(event_p_av[n], event_gt_av[n])
        TP_av[n] += tp
        FP_av[n] += fp
        FN_av[n] += fn

        tp, fp, fn = event_wise_metric(event_p_a[n], event_gt_a[n])
        TP_a[n] += tp
        FP_a[n] += fp
        FN_a[n] += fn

        tp, fp, fn = event_wise_metric(event_p_v[n], event_gt_v[n])
        TP_v[n] += tp
        FP_v[n] += fp
        FN_v[n] += fn

    return _f_scores(TP_a, FP_a, FN_a, TP_v, FP_v, FN_v, TP_av, FP_av, FN_av)


def _read_events(path):
    """Rows of an eval CSV as dicts, in file order (stands in for pd.read_csv)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _gt_matrix(rows):
    """GT_x of one video, built like eval() from the rows whose filename equals the video's."""
    GT = np.zeros((25, 10))
    for row in rows:
        x1 = int(row["onset"])
        x2 = int(row["offset"])
        idx = id_to_idx[row["event_labels"]]
        GT[idx, x1:x2] = 1
    return GT


def reference_eval(filenames, audio_csv, visual_csv, a_prob, v_prob, video_prob=None):
    """eval() of main_avvp.py for given model outputs; returns the ten numbers.

    a_prob, v_prob: [N, 10, 25] probabilities; video_prob: [N, 25] or None (no gating).
    """
    df_a = _read_events(audio_csv)
    df_v = _read_events(visual_csv)
    by_name_a, by_name_v = {}, {}
    for row in df_a:
        by_name_a.setdefault(row["filename"], []).append(row)
    for row in df_v:
        by_name_v.setdefault(row["filename"], []).append(row)

    F_seg_a, F_seg_v, F_seg, F_seg_av = [], [], [], []
    F_event_a, F_event_v, F_event, F_event_av = [], [], [], []
    for batch_idx, filename in enumerate(filenames):
        if video_prob is None:
            o = np.ones((1, 25), dtype=np.int_)
        else:
            o = (video_prob[batch_idx][None, :] >= 0.5).astype(np.int_)
        Pa = a_prob[batch_idx]
        Pv = v_prob[batch_idx]
        Pa = (Pa >= 0.5).astype(np.int_) * np.repeat(o, repeats=10, axis=0)
        Pv = (Pv >= 0.5).astype(np.int_) * np.repeat(o, repeats=10, axis=0)

        GT_a = _gt_matrix(by_name_a.get(filename, []))
        GT_v = _gt_matrix(by_name_v.get(filename, []))
        GT_av = GT_a * GT_v

        SO_a = np.transpose(Pa)
        SO_v = np.transpose(Pv)
        SO_av = SO_a * SO_v

        f_a, f_v, f, f_av = segment_level(SO_a, SO_v, SO_av, GT_a, GT_v, GT_av)
        F_seg_a.append(f_a)
        F_seg_v.append(f_v)
        F_seg.append(f)
        F_seg_av.append(f_av)

        f_a, f_v, f, f_av = event_level(SO_a, SO_v, SO_av, GT_a, GT_v, GT_av)
        F_event_a.append(f_a)
        F_event_v.append(f_v)
        F_event.append(f)
        F_event_av.append(f_av)

    audio_segment_level = 100 * np.mean(np.array(F_seg_a))
    visual_segment_level = 100 * np.mean(np.array(F_seg_v))
    av_segment_level = 100 * np.mean(np.array(F_seg_av))
    avg_type = (100 * np.mean(np.array(F_seg_av)) + 100 * np.mean(np.array(F_seg_a))
                + 100 * np.mean(np.array(F_seg_v))) / 3.
    avg_event = 100 * np.mean(np.array(F_seg))

    audio_event_level = 100 * np.mean(np.array(F_event_a))
    visual_event_level = 100 * np.mean(np.array(F_event_v))
    av_event_level = 100 * np.mean(np.array(F_event_av))
    avg_type_event = (100 * np.mean(np.array(F_event_av)) + 100 * np.mean(np.array(F_event_a))
                      + 100 * np.mean(np.array(F_event_v))) / 3.
    avg_event_level = 100 * np.mean(np.array(F_event))

    return {
        "segment_level": {"audio": audio_segment_level, "visual": visual_segment_level,
                          "audio_visual": av_segment_level, "type_at_av": avg_type,
                          "event_at_av": avg_event},
        "event_level": {"audio": audio_event_level, "visual": visual_event_level,
                        "audio_visual": av_event_level, "type_at_av": avg_type_event,
                        "event_at_av": avg_event_level},
    }
