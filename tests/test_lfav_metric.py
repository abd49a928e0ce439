"""vplan_core.evaluation.lfav_metric against the transcription of LFAV's official evaluation
(tests/official/lfav_official_eval.py) on generated predictions of varied lengths: every
reported number equal (max difference 0.0; the issue asks < 1e-6), and a changed detail caught."""
from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from tests.official import lfav_official_eval as official
from vplan_core.evaluation import lfav_metric
from vplan_core.evaluation.lfav_metric import lfav_metrics

C = len(official.CATEGORIES)  # 35
PATTERNS = ("random", "zeros", "ones", "alternating", "near_gt")


def event_rows(rng: np.random.Generator, name: str, length: int, n: int) -> list[list]:
    """Dense rows [filename, onset, offset, label] in whole seconds, the dirty kinds included:
    runs from the first row and to the last one, offsets past the end, onsets past the end,
    zero-length rows and onsets after offsets."""
    rows = []
    for _ in range(n):
        onset = int(rng.choice([0, rng.integers(0, length + 2)]))
        kind = rng.integers(5)
        offset = (length - 1 if kind == 0 else length + int(rng.integers(0, 50)) if kind == 1
                  else onset if kind == 2 else max(onset - int(rng.integers(1, 3)), 0) if kind == 3
                  else onset + int(rng.integers(0, max(2, length // 3))))
        rows.append([name, onset, offset, official.CATEGORIES[rng.integers(C)]])
    return rows


def frame_probs(rng: np.random.Generator, pattern: str, length: int, rows: list[list]) -> np.ndarray:
    """float32 [T, C] frame probabilities of one modality."""
    if pattern == "random":
        return rng.random((length, C), dtype=np.float32)
    if pattern in ("zeros", "ones"):
        return np.full((length, C), float(pattern == "ones"), dtype=np.float32)
    if pattern == "alternating":  # runs of 1-4 rows, alternately above and below 0.5
        runs = np.cumsum(rng.integers(1, 5, size=(length, C)), axis=0)
        on = np.zeros((length, C), dtype=bool)
        for c in range(C):
            on[:, c] = np.searchsorted(runs[:, c], np.arange(length), side="right") % 2 == 1
        return np.where(on, 0.9, 0.1).astype(np.float32)
    # near_gt: the rows' events with ends moved by up to 2 rows, so every IoU case occurs
    p = rng.random((length, C), dtype=np.float32) * 0.5
    for _, onset, offset, label in rows:
        start, stop = onset + rng.integers(-2, 3), offset + 1 + rng.integers(-2, 3)
        p[max(start, 0):max(stop, 0), official.CATEGORIES.index(label)] = 0.5 + 0.5 * rng.random()
    return p


def make_split(seed: int, lengths: list[int], patterns: list[str]):
    """Official-style inputs (samples, weak and dense rows) for videos of the given lengths. A
    "zeros" video has no event and predicts none (it scores 1.0); the longest video also holds
    one audio and one overlapping visual event of every class, so that no class's AP is 0/0."""
    rng = np.random.default_rng(seed)
    samples, weak, a_rows, v_rows = [], [], [], []
    longest = int(np.argmax(lengths))
    for i, (length, pattern) in enumerate(zip(lengths, patterns)):
        name = f"video{i:04d}"
        n_rows = 0 if pattern == "zeros" else int(rng.integers(0, 2 * C))  # zeros: no event
        rows = {m: event_rows(rng, name, length, n_rows) for m in "av"}
        if i == longest:
            for c, label in enumerate(official.CATEGORIES):
                start = c * (length - 4) // C
                rows["a"].append([name, start, start + 3, label])
                rows["v"].append([name, start + 1, start + 5, label])
        a_rows += rows["a"]
        v_rows += rows["v"]
        weak.append([name, ""])
        frame_prob = np.stack([frame_probs(rng, pattern, length, rows[m]) for m in "av"], axis=1)
        video_prob = (np.ones((2, 1, C), np.float32) if pattern == "ones"
                      else rng.random((2, 1, C), dtype=np.float32))
        samples.append({"audio": np.zeros((1, length, 0)), "a_prob": video_prob[0],
                        "v_prob": video_prob[1], "frame_prob": frame_prob[None]})
    return samples, weak, a_rows, v_rows


def official_numbers(split) -> tuple[dict[str, float], dict]:
    samples, weak, a_rows, v_rows = split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # its 0/0 recall of a class without GT
        ref = official.evaluation(samples, weak, weak, a_rows, v_rows)
    mean = {k: 100 * np.mean(np.array(ref[k])) for k in
            ("F_seg_a", "F_seg_v", "F_seg_av", "F_seg", "F_event")}
    numbers = {
        "segment_level.audio": mean["F_seg_a"], "segment_level.visual": mean["F_seg_v"],
        "segment_level.audio_visual": mean["F_seg_av"],
        "segment_level.type_at_av": (mean["F_seg_av"] + mean["F_seg_a"] + mean["F_seg_v"]) / 3.,
        "segment_level.event_at_av": mean["F_seg"],
        "event_level.audio": ref["event_a"], "event_level.visual": ref["event_v"],
        "event_level.audio_visual": ref["event_av"], "event_level.type_at_av": ref["event_type"],
        "event_level.event_at_av": mean["F_event"],
        "segment_map.audio": ref["map_a"], "segment_map.visual": ref["map_v"],
        "segment_map.audio_visual": ref["map_av"], "segment_map.average": ref["map_avg"],
        "selection": ref["selection"]}
    return numbers, ref


def our_inputs(split, ref) -> dict:
    """lfav_metrics' arguments: the official's own GT arrays and the same probabilities, [T, C]."""
    samples = split[0]
    return {"gt_audio": [g.T.astype(np.uint8) for g in ref["gta_list"]],
            "gt_visual": [g.T.astype(np.uint8) for g in ref["gtv_list"]],
            "audio_prob": [s["frame_prob"][0, :, 0, :] for s in samples],
            "visual_prob": [s["frame_prob"][0, :, 1, :] for s in samples],
            "audio_video_prob": np.concatenate([s["a_prob"] for s in samples]),
            "visual_video_prob": np.concatenate([s["v_prob"] for s in samples])}


def flat(out: dict) -> dict[str, float]:
    return {f"{k}.{kk}" if isinstance(v, dict) else k: vv
            for k, v in out.items() for kk, vv in (v.items() if isinstance(v, dict) else [(None, v)])}


def max_difference(ours: dict, ref: dict[str, float]) -> float:
    ours = flat(ours)
    assert set(ours) == set(ref)
    return max(abs(ours[k] - ref[k]) for k in ref)


LENGTHS = [1, 2, 7, 160, 1000]
CASES = {
    "random": (0, LENGTHS, ["random"] * 5),
    "mixed": (1, LENGTHS + [1, 3, 40], ["near_gt", "random", "alternating", "near_gt", "random",
                                        "ones", "zeros", "near_gt"]),
    "adversarial": (2, [1, 2, 7, 160, 1000, 7, 2], ["ones", "zeros", "alternating", "alternating",
                                                    "near_gt", "ones", "alternating"]),
    "near_gt": (3, [1, 2, 7, 160, 1000, 33], ["near_gt"] * 6),
}


@pytest.mark.parametrize("case", CASES)
def test_equals_the_official_evaluation(case):
    split = make_split(*CASES[case])
    ref, raw = official_numbers(split)
    ours = lfav_metrics(**our_inputs(split, raw))
    assert all(np.isfinite(v) for v in ref.values())
    assert {k: v for k, v in flat(ours).items() if v != ref[k]} == {}  # bit-identical
    assert max_difference(ours, ref) == 0.0
    assert ours["event_level"]["audio"] > 0 and ours["segment_map"]["average"] > 0


@pytest.mark.parametrize("mutant", ["exclusive_ends", "micro_f", "empty_video_scores_0",
                                    "gate_by_the_other_modality", "stable_ranking"])
def test_a_changed_detail_is_caught(mutant, monkeypatch):
    """The comparison can fail: each mutant changes one detail of the protocol."""
    split = make_split(*CASES["mixed"])
    ref, raw = official_numbers(split)
    args = our_inputs(split, raw)
    video_f = lfav_metric._video_f
    if mutant == "exclusive_ends":  # GT[idx, x1:x2] = 1, as LLP
        _, weak, a_rows, v_rows = split
        for key, rows in (("gt_audio", a_rows), ("gt_visual", v_rows)):
            for i, gt in enumerate(args[key]):
                gt[:] = 0
                for name, onset, offset, label in rows:
                    if name == weak[i][0]:
                        gt[onset:offset, official.CATEGORIES.index(label)] = 1
    elif mutant == "micro_f":  # one F over all classes' counts, not the mean of per-class F
        def micro(tp, fp, fn):
            tp, fp, fn = (x.sum(axis=1, keepdims=True) for x in (tp, fp, fn))
            return video_f(tp, fp, fn)
        monkeypatch.setattr(lfav_metric, "_video_f", micro)
    elif mutant == "empty_video_scores_0":
        monkeypatch.setattr(lfav_metric, "_video_f", lambda tp, fp, fn: np.where(
            ((tp + fp + fn) > 0).any(axis=1), video_f(tp, fp, fn), 0.0))
    elif mutant == "gate_by_the_other_modality":
        args["audio_video_prob"], args["visual_video_prob"] = (args["visual_video_prob"],
                                                               args["audio_video_prob"])
    elif mutant == "stable_ranking":  # ties (the "ones" videos) ranked in another order
        argsort = np.argsort
        monkeypatch.setattr(lfav_metric.np, "argsort", lambda x: argsort(x, kind="stable"))
    assert max_difference(lfav_metrics(**args), ref) > 1e-6


def test_a_class_without_gt_gives_nan_map_with_a_warning():
    """Official segment_map: 0/0 recall, a NaN AP, so NaN mAP and selection; F is unaffected."""
    split = make_split(4, [1, 5], ["near_gt", "ones"])
    split[2][:] = [["video0000", 0, 0, "accordion"]]  # audio: one row of class 0
    split[3][:] = [["video0001", 3, 3, "accordion"]]  # visual: one row; no AV GT at all
    ref, raw = official_numbers(split)
    with pytest.warns(UserWarning) as record:
        ours = flat(lfav_metrics(**our_inputs(split, raw)))
    messages = [str(w.message) for w in record]
    assert len(messages) == 3  # audio, visual, audio-visual
    assert "audio: class(es) 1, 2, 3," in messages[0] and ", 34 have no GT row" in messages[0]
    assert "audio-visual: class(es) 0, 1, 2," in messages[2]
    for key, value in ref.items():
        assert (np.isnan(value) and np.isnan(ours[key])) or value == ours[key], key
    assert np.isnan(ours["selection"]) and np.isfinite(ours["event_level.type_at_av"])


def test_one_row_and_end_events_by_hand():
    """A one-row video with its event found, and a 3-row video whose event (seconds 1-2
    inclusive) runs to the end, predicted from second 2: segment F 2/3, event IoU 1/2 a match."""
    gt_a = [np.ones((1, 2), np.uint8), np.array([[0, 0], [1, 0], [1, 0]], np.uint8)]
    gt_v = [np.zeros((1, 2), np.uint8), np.zeros((3, 2), np.uint8)]
    prob_a = [np.full((1, 2), 0.7), np.array([[0.1, 0], [0.4, 0], [0.5, 0]])]
    prob_v = [np.zeros((1, 2)), np.zeros((3, 2))]
    gate = np.full((2, 2), 0.5)
    with pytest.warns(UserWarning, match="no GT row"):  # visual has no GT: NaN mAP
        out = lfav_metrics(gt_a, gt_v, prob_a, prob_v, gate, gate)
    assert out["segment_level"]["audio"] == pytest.approx(100 * (1 + 2 / 3) / 2, abs=1e-12)
    assert out["event_level"]["audio"] == 100.0
    assert out["segment_level"]["visual"] == out["event_level"]["audio_visual"] == 100.0  # empty
    # audio AP, class 0: rows ranked 0.7 (hit), 0.5 (hit), 0.4 (hit), 0.1 -> 1.0; class 1 -> 1.0
    assert out["segment_map"]["audio"] == 100.0
    gate[1, 0] = 0.49  # the video-level gate removes video 1's prediction
    with pytest.warns(UserWarning):
        assert lfav_metrics(gt_a, gt_v, prob_a, prob_v, gate, gate)["event_level"]["audio"] == 50.0


def test_inputs_are_validated():
    ok = [np.zeros((4, 3), np.uint8)], [np.zeros((4, 3), np.uint8)], [np.zeros((4, 3))], \
        [np.zeros((4, 3))], np.zeros((1, 3)), np.zeros((1, 3))

    def bad(position, value):
        args = list(ok)
        args[position] = value
        return args
    with pytest.raises(ValueError, match=r"visual_video_prob \(1, 4\) must both be \[N, C\]"):
        lfav_metrics(*bad(5, np.zeros((1, 4))))
    with pytest.raises(ValueError, match="audio_prob has 2 videos"):
        lfav_metrics(*bad(2, [np.zeros((4, 3))] * 2))
    with pytest.raises(ValueError, match=r"video 0: shapes .*'visual_prob': \(5, 3\)"):
        lfav_metrics(*bad(3, [np.zeros((5, 3))]))
    with pytest.raises(ValueError, match=r"each must be \[T, 3\] with the same T >= 1"):
        lfav_metrics(*bad(0, [np.zeros((4, 2), np.uint8)]))
    with pytest.raises(ValueError, match="T >= 1"):
        lfav_metrics([np.zeros((0, 3))], [np.zeros((0, 3))], [np.zeros((0, 3))],
                     [np.zeros((0, 3))], np.zeros((1, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="video 0: gt_visual must be binary"):
        lfav_metrics(*bad(1, [np.full((4, 3), 2, np.uint8)]))
    with pytest.raises(ValueError, match="video 0: audio_prob has a non-finite"):
        lfav_metrics(*bad(2, [np.full((4, 3), np.nan)]))
    with pytest.raises(ValueError, match="with N >= 1"):
        lfav_metrics([], [], [], [], np.zeros((0, 3)), np.zeros((0, 3)))


def test_a_test_split_of_lfav_size_is_fast():
    """968 videos of about 200 rows, 35 classes (LFAV's test split)."""
    rng = np.random.default_rng(5)
    lengths = rng.integers(100, 300, 968)
    gt = [[(rng.random((t, C)) < 0.1).astype(np.uint8) for t in lengths] for _ in "av"]
    prob = [[rng.random((t, C), dtype=np.float32) for t in lengths] for _ in "av"]
    start = time.perf_counter()
    lfav_metrics(*gt, *prob, rng.random((968, C)), rng.random((968, C)))
    assert time.perf_counter() - start < 15  # about 2 s alone on this 2-core machine
