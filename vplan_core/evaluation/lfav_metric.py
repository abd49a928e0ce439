"""LFAV's evaluation protocol (docs/metric.md §9), equal to GeWu-Lab/LFAV's code.

The official code is `evaluation()` of src/tools/evaluation.py with src/utils/eval_metrics.py
(commit e17ad4d); tests/official/lfav_official_eval.py transcribes it and
tests/test_lfav_metric.py holds this module to it. It is not LLP's protocol
(vplan_core.evaluation.metrics), although it reuses LLP's per-video F:

- videos have their own lengths (one row per second, each video at its full length), so the
  inputs are lists of time-major [T_i, C] arrays;
- segment- and event-level F are per-video macro F over the counted classes, averaged over
  videos, as in LLP, but the model-selection score is (segment mAP + event-level Type@AV) / 2;
- segment mAP: per class, AP of the raw frame probabilities of all rows of all videos pooled
  (audio, visual, and audio x visual for audio-visual), VOC-2011 interpolated, averaged over
  classes; LLP has no mAP;
- each modality is gated by its own video-level probability (LFAV's `real_av_labels`).

Edge cases, all as in the official code:
- a video with no GT and no prediction of a modality scores 1.0 (LLP's rule, metric.md §7);
- GT from dense rows marks onset to offset inclusive: that is the reader's job (a row's
  offset past the end is cut at the last row); here GT arrays come in built;
- an event that runs to the last row, and a video of one row, are ordinary runs;
- a class with no GT row in all the videos has 0/0 recall: its AP is NaN, so that modality's
  mAP, the average and `selection` are NaN. This is reproduced, with a warning naming the
  classes (by index).
The float arithmetic follows the official's order (Python sum over classes, numpy.mean over
videos, the same argsort), so the results are bit-identical to the transcription.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from vplan_core.evaluation.metrics import _video_f

_LEVEL_KEYS = ("audio", "visual", "audio_visual", "type_at_av", "event_at_av")

Counts = tuple[np.ndarray, np.ndarray, np.ndarray]  # TP, FP, FN per class


def _runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of 1s along time in each class row of bool [C, T] x.

    Returns the run number of every cell [C*T] (1, 2, ... in class-then-time order, 0 outside
    runs), and per run its first cell (flat index), its class and its length.
    """
    starts = x.copy()
    starts[:, 1:] &= ~x[:, :-1]
    first = np.flatnonzero(starts)
    run_of_cell = np.cumsum(starts, axis=None) * x.ravel()
    lengths = np.bincount(run_of_cell, minlength=len(first) + 1)[1:]
    return run_of_cell, first, first // x.shape[1], lengths


def _event_counts(gt: np.ndarray, so: np.ndarray) -> Counts:
    """Per-class event TP, FP, FN [C] of one video's bool [C, T] GT and prediction.

    As the official event_wise_metric: a predicted run is a TP when some GT run of its class has
    |p∩g| >= 0.5·|p∪g|, else an FP; a GT run with no such predicted run is an FN. Two runs that
    overlap do so in exactly one run of gt & so, so only those runs are tested.
    """
    n_classes = gt.shape[0]
    pred_run, _, pred_class, pred_len = _runs(so)
    true_run, _, true_class, true_len = _runs(gt)
    _, first, _, inter = _runs(gt & so)
    p, g = pred_run[first] - 1, true_run[first] - 1
    match = inter >= 0.5 * (pred_len[p] + true_len[g] - inter)
    pred_found = np.zeros(len(pred_len), dtype=bool)
    pred_found[p[match]] = True
    true_found = np.zeros(len(true_len), dtype=bool)
    true_found[g[match]] = True
    tp = np.bincount(pred_class[pred_found], minlength=n_classes)
    fp = np.bincount(pred_class, minlength=n_classes) - tp
    fn = np.bincount(true_class[~true_found], minlength=n_classes)
    return tp, fp, fn


def _segment_counts(gt: np.ndarray, so: np.ndarray) -> Counts:
    """Per-class segment TP, FP, FN [C] of one video's bool [C, T] GT and prediction."""
    return (gt & so).sum(axis=1), (so & ~gt).sum(axis=1), (gt & ~so).sum(axis=1)


def _average_precision(prob: np.ndarray, gt: np.ndarray) -> np.float64:
    """The official segment_map's AP of one class: rows ranked by the same argsort, precision
    and recall after each row, then interpolated_prec_rec (VOC 2011). NaN without GT rows."""
    hit = gt[np.argsort(prob)[::-1]]
    tp = np.cumsum(hit)
    with np.errstate(invalid="ignore"):
        prec, rec = tp / np.arange(1, len(hit) + 1), tp / hit.sum()
    mprec = np.hstack([[0], prec, [0]])
    mrec = np.hstack([[0], rec, [1]])
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    idx = np.where(mrec[1::] != mrec[0:-1])[0] + 1
    return np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx])


def _segment_map(probs: list[np.ndarray], gts: list[np.ndarray], modality: str) -> float:
    """Mean over classes of the AP of all rows of all videos pooled (official segment_map)."""
    prob, gt = np.concatenate(probs).T.copy(), np.concatenate(gts).T.copy()
    empty = np.flatnonzero(~gt.any(axis=1))
    if len(empty):
        warnings.warn(f"LFAV segment mAP, {modality}: class(es) {', '.join(map(str, empty))} have "
                      "no GT row in these videos; their AP is NaN (0/0 recall, as in the official "
                      "code), and so are this mAP, the average and the selection score",
                      stacklevel=3)
    aps = [_average_precision(p, g) for p, g in zip(prob, gt)]
    return sum(aps) / len(aps)


def _level(scores: dict[str, np.ndarray]) -> dict[str, float]:
    audio, visual = 100 * np.mean(scores["a"]), 100 * np.mean(scores["v"])
    audio_visual = 100 * np.mean(scores["av"])
    type_at_av = (audio_visual + audio + visual) / 3.  # the official's order
    values = (audio, visual, audio_visual, type_at_av, 100 * np.mean(scores["event"]))
    return {key: float(value) for key, value in zip(_LEVEL_KEYS, values)}


def _video_counts(gt_a: np.ndarray, gt_v: np.ndarray, so_a: np.ndarray,
                  so_v: np.ndarray) -> dict[str, Counts]:
    """Per-class counts [C] of one video's bool [C, T] arrays, keyed "<level>_<a|v|av>"."""
    gt_av, so_av = gt_a & gt_v, so_a & so_v
    return {f"{level}_{m}": count(gt, so)
            for level, count in (("segment", _segment_counts), ("event", _event_counts))
            for m, gt, so in (("a", gt_a, so_a), ("v", gt_v, so_v), ("av", gt_av, so_av))}


def _checked(gt_audio, gt_visual, audio_prob, visual_prob, audio_video_prob, visual_video_prob):
    """The inputs as arrays, with a clear error on any shape, length or value problem."""
    video_a, video_v = np.asarray(audio_video_prob), np.asarray(visual_video_prob)
    if video_a.ndim != 2 or video_a.shape != video_v.shape or len(video_a) == 0:
        raise ValueError(f"audio_video_prob {video_a.shape} and visual_video_prob {video_v.shape} "
                         "must both be [N, C] with N >= 1")
    n, n_classes = video_a.shape
    videos = {"gt_audio": gt_audio, "gt_visual": gt_visual, "audio_prob": audio_prob,
              "visual_prob": visual_prob}
    for name, seq in videos.items():
        if len(seq) != n:
            raise ValueError(f"{name} has {len(seq)} videos, the video-level probabilities {n}")
    videos = {name: [np.asarray(x) for x in seq] for name, seq in videos.items()}
    for i in range(n):
        shapes = {name: seq[i].shape for name, seq in videos.items()}
        if len(set(shapes.values())) > 1 or len(shapes["gt_audio"]) != 2 \
                or shapes["gt_audio"][1] != n_classes or shapes["gt_audio"][0] == 0:
            raise ValueError(f"video {i}: shapes {shapes}; each must be [T, {n_classes}] with the "
                             "same T >= 1 (one row per second)")
        for name in ("gt_audio", "gt_visual"):
            x = videos[name][i]
            if x.dtype != bool and ((x != 0) & (x != 1)).any():
                raise ValueError(f"video {i}: {name} must be binary (0/1)")
        for name in ("audio_prob", "visual_prob"):
            if not np.isfinite(videos[name][i]).all():
                raise ValueError(f"video {i}: {name} has a non-finite probability (NaN or inf)")
    gt_a = [x.astype(bool) for x in videos["gt_audio"]]
    gt_v = [x.astype(bool) for x in videos["gt_visual"]]
    return gt_a, gt_v, videos["audio_prob"], videos["visual_prob"], video_a, video_v


def lfav_metrics(gt_audio: Sequence[np.ndarray], gt_visual: Sequence[np.ndarray],
                 audio_prob: Sequence[np.ndarray], visual_prob: Sequence[np.ndarray],
                 audio_video_prob: np.ndarray, visual_video_prob: np.ndarray) -> dict:
    """LFAV's reported numbers, in percent, for N videos of their own lengths T_i.

    gt_audio, gt_visual: per video binary [T_i, C]. audio_prob, visual_prob: per video frame
    probabilities [T_i, C] (an [N, T, C] array serves too). audio_video_prob,
    visual_video_prob: [N, C] video-level probabilities of each modality; a frame is predicted
    when its probability and its modality's video-level probability are both >= 0.5.

    Returns {"segment_level": {audio, visual, audio_visual, type_at_av, event_at_av},
    "event_level": {the same}, "segment_map": {audio, visual, audio_visual, average},
    "selection": (segment_map average + event-level type_at_av) / 2}, the score the official
    evaluation() returns for model selection. Type@AV is the mean of the three modalities'
    means, Event@AV the per-video F of the audio and visual counts pooled per class.
    """
    gt_a, gt_v, prob_a, prob_v, video_a, video_v = _checked(
        gt_audio, gt_visual, audio_prob, visual_prob, audio_video_prob, visual_video_prob)
    per_video = [_video_counts(ga.T, gv.T, (pa >= 0.5).T & (ya >= 0.5)[:, None],
                               (pv >= 0.5).T & (yv >= 0.5)[:, None])
                 for ga, gv, pa, pv, ya, yv in zip(gt_a, gt_v, prob_a, prob_v, video_a, video_v)]
    out = {}
    for level in ("segment", "event"):
        a, v, av = (tuple(np.stack([c[f"{level}_{m}"][k] for c in per_video]) for k in range(3))
                    for m in ("a", "v", "av"))  # TP, FP, FN [N, C] each
        out[f"{level}_level"] = _level({"a": _video_f(*a), "v": _video_f(*v), "av": _video_f(*av),
                                        "event": _video_f(*(x + y for x, y in zip(a, v)))})
    map_a = _segment_map(prob_a, gt_a, "audio")
    map_v = _segment_map(prob_v, gt_v, "visual")
    map_av = _segment_map([pa * pv for pa, pv in zip(prob_a, prob_v)],
                          [ga & gv for ga, gv in zip(gt_a, gt_v)], "audio-visual")
    map_avg = (map_a + map_v + map_av) / 3
    out["segment_map"] = {"audio": float(map_a * 100), "visual": float(map_v * 100),
                          "audio_visual": float(map_av * 100), "average": float(map_avg * 100)}
    out["selection"] = float((map_avg * 100 + out["event_level"]["type_at_av"]) / 2)
    return out
