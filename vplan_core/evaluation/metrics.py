"""The ten AVVP numbers (docs/metric.md), vectorised over videos.

The reference (AVVP-ECCV20 eval) loops over videos, classes and events; here every step is
an array operation over [N, T, C] arrays (event matching over one-hot runs [rows, runs, T]),
and the float arithmetic is ordered so that the results are bit-identical to the reference
(tests/reference_metric.py).
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

from vplan_core.data.annotations import Split

_LEVEL_KEYS = ("audio", "visual", "audio_visual", "type_at_av", "event_at_av")

Counts = tuple[np.ndarray, np.ndarray, np.ndarray]  # TP, FP, FN, each [N, C] int


def _as_dense_bool(x: np.ndarray, name: str) -> np.ndarray:
    """Validate a binary [N, T, C] array and return it as bool."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"{name} has shape {x.shape}, expected [N, T, C]")
    if x.dtype != bool and ((x != 0) & (x != 1)).any():
        raise ValueError(f"{name} must be binary (0/1)")
    return x.astype(bool, copy=False)


def binarize(audio_prob: np.ndarray, visual_prob: np.ndarray, video_prob: np.ndarray | None = None,
             threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Segment predictions SO_a, SO_v [N, T, C] uint8 (metric.md §3).

    A segment is positive when its probability is >= threshold and, if video_prob is
    given, the class's video-level probability is >= 0.5 (the reference's gating).
    """
    audio_prob, visual_prob = np.asarray(audio_prob), np.asarray(visual_prob)
    if audio_prob.shape != visual_prob.shape or audio_prob.ndim != 3:
        raise ValueError(f"audio_prob {audio_prob.shape} and visual_prob {visual_prob.shape} "
                         f"must both be [N, T, C]")
    so_a = audio_prob >= threshold
    so_v = visual_prob >= threshold
    if video_prob is not None:
        video_prob = np.asarray(video_prob)
        if video_prob.shape != (audio_prob.shape[0], audio_prob.shape[2]):
            raise ValueError(f"video_prob has shape {video_prob.shape}, "
                             f"expected {(audio_prob.shape[0], audio_prob.shape[2])}")
        gate = (video_prob >= 0.5)[:, None, :]
        so_a &= gate
        so_v &= gate
    return so_a.astype(np.uint8), so_v.astype(np.uint8)


def _segment_counts(gt: np.ndarray, so: np.ndarray) -> Counts:
    """Per-class segment TP, FP, FN (metric.md §4) of bool [N, T, C] arrays."""
    return (gt & so).sum(axis=1), (so & ~gt).sum(axis=1), (gt & ~so).sum(axis=1)


def _sum_last(x: np.ndarray) -> np.ndarray:
    """Sum of a float32 array over its short last axis; as a matmul it is several times
    faster than numpy's reduction over axes of 5-10 elements."""
    return x @ np.ones(x.shape[-1], dtype=np.float32)


def _run_starts(x: np.ndarray) -> np.ndarray:
    """bool [N, C, T]: True where a maximal run of 1s starts, for bool [N, T, C] x."""
    rows = np.moveaxis(x, 1, 2)
    starts = rows.copy()
    starts[..., 1:] &= ~rows[..., :-1]
    return starts


def _one_hot_runs(starts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Runs of bool [M, T] rows as one-hot float32 [M, K, T], K = ceil(T/2) (a run needs a 0
    after it, so a row of T segments holds at most that many).

    Slot k holds the (k+1)-th run in time order; unused slots are zero. float32 holds the
    small counts exactly and lets matmul do the sums over T.
    """
    run_id = np.cumsum(starts, axis=-1, dtype=np.int32) * rows  # 0 outside runs
    run_ids = np.arange(1, _max_runs(rows.shape[-1]) + 1)
    return (run_id[:, None, :] == run_ids[:, None]).astype(np.float32)


def _max_runs(segments: int) -> int:
    return (segments + 1) // 2


def _event_counts(gt: np.ndarray, so: np.ndarray) -> Counts:
    """Per-class event TP, FP, FN (metric.md §5) of bool [N, T, C] arrays.

    A predicted run is a TP if some GT run has |p∩g| >= 0.5·|p∪g|, else an FP; a GT run
    with no such predicted run is an FN, exactly the reference's event_wise_metric.
    Only (video, class) rows with both predicted and GT runs need matching.
    """
    starts_p, starts_g = _run_starts(so), _run_starts(gt)
    n_pred, n_true = starts_p.sum(axis=-1), starts_g.sum(axis=-1)  # [N, C]
    both = (n_pred > 0) & (n_true > 0)
    pred = _one_hot_runs(starts_p[both], np.moveaxis(so, 1, 2)[both])  # [M, K, T]
    true = _one_hot_runs(starts_g[both], np.moveaxis(gt, 1, 2)[both])
    inter = pred @ np.swapaxes(true, -1, -2)  # [M, K, K]: |p ∩ g| for every pair of slots
    union = _sum_last(pred)[:, :, None] + _sum_last(true)[:, None, :] - inter
    # inter > 0 drops pairs with an unused slot (0 >= 0.5·0); real matches always overlap.
    match = ((inter >= 0.5 * union) & (inter > 0)).astype(np.float32)
    tp, gt_found = np.zeros(both.shape, np.int64), np.zeros(both.shape, np.int64)
    tp[both] = _sum_last((_sum_last(match) > 0).astype(np.float32))
    gt_found[both] = _sum_last((np.ones(match.shape[1], dtype=np.float32) @ match > 0).astype(np.float32))
    return tp, n_pred - tp, n_true - gt_found


def _video_f(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Per-video macro F over counted classes, 1.0 when no class is counted [N] float64."""
    counted = (tp + fp != 0) | (tp + fn != 0)
    f = np.divide(2 * tp, 2 * tp + (fn + fp), out=np.zeros(tp.shape), where=counted)
    # Accumulate class by class, like the reference's Python sum(); a pairwise np.sum could
    # differ in the last bit. Uncounted classes add an exact 0.0.
    total = np.zeros(len(f))
    for column in f.T:
        total += column
    n_counted = counted.sum(axis=1)
    return np.divide(total, n_counted, out=np.ones(len(f)), where=n_counted > 0)


def _add(a: Counts, b: Counts) -> Counts:
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def _same_videos(**arrays: np.ndarray) -> list[np.ndarray]:
    """Validate binary [N, T, C] arrays that must describe the same N videos."""
    checked = [_as_dense_bool(x, name) for name, x in arrays.items()]
    if len({x.shape for x in checked}) > 1:
        sizes = ", ".join(f"{name}: {x.shape}" for name, x in zip(arrays, checked))
        raise ValueError(f"arrays cover different videos, segments or classes ({sizes})")
    return checked


def segment_f(gt: np.ndarray, so: np.ndarray) -> np.ndarray:
    """Per-video segment-level F [N] of one modality (binary [N, T, C] inputs)."""
    return _video_f(*_segment_counts(*_same_videos(gt=gt, so=so)))


def event_f(gt: np.ndarray, so: np.ndarray) -> np.ndarray:
    """Per-video event-level F [N] of one modality (binary [N, T, C] inputs)."""
    return _video_f(*_event_counts(*_same_videos(gt=gt, so=so)))


def video_scores(gt_a: np.ndarray, gt_v: np.ndarray, so_a: np.ndarray,
                 so_v: np.ndarray) -> dict[str, np.ndarray]:
    """The eight per-video scores [N] float64: seg_/evt_ × a, v, av, event (metric.md §4-5)."""
    gt_a, gt_v, so_a, so_v = _same_videos(gt_a=gt_a, gt_v=gt_v, so_a=so_a, so_v=so_v)
    gt_av, so_av = gt_a & gt_v, so_a & so_v
    scores = {}
    for level, counts in (("seg", _segment_counts), ("evt", _event_counts)):
        a, v, av = counts(gt_a, so_a), counts(gt_v, so_v), counts(gt_av, so_av)
        scores[f"{level}_a"] = _video_f(*a)
        scores[f"{level}_v"] = _video_f(*v)
        scores[f"{level}_av"] = _video_f(*av)
        scores[f"{level}_event"] = _video_f(*_add(a, v))
    return scores


def _level(a: np.ndarray, v: np.ndarray, av: np.ndarray, event: np.ndarray) -> dict[str, float]:
    audio, visual, audio_visual = 100 * np.mean(a), 100 * np.mean(v), 100 * np.mean(av)
    type_at_av = (audio_visual + audio + visual) / 3.0  # the reference's order
    values = (audio, visual, audio_visual, type_at_av, 100 * np.mean(event))
    return {key: float(value) for key, value in zip(_LEVEL_KEYS, values)}


def summarize(scores: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """The ten reported numbers in percent (metric.md §6) from video_scores() output."""
    return {
        f"{name}_level": _level(scores[f"{p}_a"], scores[f"{p}_v"], scores[f"{p}_av"],
                                scores[f"{p}_event"])
        for name, p in (("segment", "seg"), ("event", "evt"))
    }


def avvp_metrics(gt_a: np.ndarray, gt_v: np.ndarray, so_a: np.ndarray,
                 so_v: np.ndarray) -> dict[str, dict[str, float]]:
    """The ten AVVP numbers of binary predictions against binary GT, all [N, T, C]."""
    return summarize(video_scores(gt_a, gt_v, so_a, so_v))


def _few(items: list[str], k: int = 5) -> str:
    return ", ".join(items[:k]) + (", ..." if len(items) > k else "")


def _split_rows(ids: list[str], split: Split) -> np.ndarray:
    """Split row of every prediction id (an 11-char id or a full filename)."""
    by_filename = {f: i for i, f in enumerate(split.filenames)}
    by_id: dict[str, list[int]] = {}
    for i, vid in enumerate(split.video_ids):
        by_id.setdefault(vid, []).append(i)
    rows, unknown = [], []
    for pid in ids:
        if len(pid) == 11:
            matches = by_id.get(pid, [])
            if len(matches) > 1:
                raise ValueError(f"video id {pid!r} is ambiguous in split {split.name!r}; "
                                 "use full filenames")
            row = matches[0] if matches else None
        else:
            row = by_filename.get(pid)
        if row is None:
            unknown.append(pid)
        else:
            rows.append(row)
    if unknown:
        raise ValueError(f"{len(unknown)} prediction video id(s) are not in split "
                         f"{split.name!r}: {_few(unknown)}")
    rows = np.array(rows, dtype=np.int64)
    seen = np.bincount(rows, minlength=len(split.filenames))
    if (seen > 1).any():
        dup = [split.filenames[i] for i in np.flatnonzero(seen > 1)]
        raise ValueError(f"{len(dup)} video(s) have more than one prediction: {_few(dup)}")
    return rows


def evaluate_predictions(pred: Mapping[str, np.ndarray], split: Split,
                         allow_missing: bool = False) -> dict[str, dict[str, float]]:
    """The ten AVVP numbers of model outputs on a split with dense GT.

    pred: video_ids [N] (11-char ids or full filenames, any order), audio_prob and
    visual_prob [N, T, C] (the split's GT shape), optional video_prob [N, C] for gating. Predictions are
    aligned to the split's file order. Every split video must have a prediction unless
    allow_missing is set: then only the videos present are scored and the means are over
    them alone (missing videos are not counted as zeros), with a warning giving the count.
    """
    if split.gt_audio is None or split.gt_visual is None:
        raise ValueError(f"split {split.name!r} has no dense ground truth")
    missing_keys = [k for k in ("video_ids", "audio_prob", "visual_prob") if k not in pred]
    if missing_keys:
        raise ValueError(f"predictions lack key(s): {', '.join(missing_keys)}")
    ids = [x.decode() if isinstance(x, bytes) else str(x)
           for x in np.asarray(pred["video_ids"]).reshape(-1).tolist()]
    n = len(ids)
    if n == 0:
        raise ValueError("predictions are empty")
    segments, classes = split.gt_audio.shape[1:]
    probs = {"audio_prob": (segments, classes), "visual_prob": (segments, classes)}
    if "video_prob" in pred:
        probs["video_prob"] = (classes,)
    arrays = {}
    for key, shape in probs.items():
        arr = np.asarray(pred[key])
        if arr.shape != (n, *shape) or arr.dtype.kind not in "biuf":
            raise ValueError(f"{key} is {arr.dtype} {arr.shape}, expected numeric {(n, *shape)}")
        arrays[key] = arr
    rows = _split_rows(ids, split)
    finite = np.ones(n, dtype=bool)
    for arr in arrays.values():
        finite &= np.isfinite(arr).reshape(n, -1).all(axis=1)
    if not finite.all():
        first, more = int(np.argmin(finite)), n - int(finite.sum()) - 1
        raise ValueError(f"non-finite probability (NaN or inf) for video {ids[first]!r}"
                         + (f" and {more} more" if more else ""))
    n_split = len(split.filenames)
    if n < n_split:
        absent = sorted(set(range(n_split)) - set(rows.tolist()))
        names = [split.filenames[i] for i in absent]
        if not allow_missing:
            raise ValueError(f"{len(absent)} of {n_split} {split.name} videos have no prediction: "
                             f"{_few(names)} (allow_missing / --allow-missing scores only the "
                             "present ones)")
        warnings.warn(f"scoring {n} of {n_split} {split.name} videos; {len(absent)} have no "
                      f"prediction", stacklevel=2)
    order = np.argsort(rows)  # score in the split's file order, like the reference
    rows = rows[order]
    so_a, so_v = binarize(arrays["audio_prob"][order], arrays["visual_prob"][order],
                          arrays["video_prob"][order] if "video_prob" in arrays else None)
    return avvp_metrics(split.gt_audio[rows], split.gt_visual[rows], so_a, so_v)
