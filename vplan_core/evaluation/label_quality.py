"""Quality of pseudo labels against the dense ground truth of their modality.

Video-level precision/recall (the paper's Table I) and the metric's segment- and event-level F
(Table II), so that pseudo labels and model outputs are judged alike: visual labels (CLIP)
against the dense visual truth, audio labels (CLAP, rows 6-7) against the dense audio truth.
"""
from __future__ import annotations

import numpy as np

from vplan_core.evaluation.metrics import event_f, segment_f
from vplan_core.method.pld import denoise


def video_level_precision_recall(video_labels: np.ndarray,
                                 gt_visual: np.ndarray) -> dict[str, float]:
    """Micro-averaged precision and recall (%) of video-level labels [N, C].

    A (video, class) pair is a GT positive iff the class is visible in at least one
    segment of gt_visual [N, T, C]. Counts are pooled over all pairs (micro average),
    so videos with many classes weigh more. A ratio whose denominator is zero (nothing
    predicted, or no visible class at all) is reported as 0.0 rather than NaN.
    """
    pred = np.asarray(video_labels)
    gt = np.asarray(gt_visual)
    if gt.ndim != 3:
        raise ValueError(f"gt_visual has shape {gt.shape}, expected [N, T, C]")
    if pred.shape != (gt.shape[0], gt.shape[2]):
        raise ValueError(f"video_labels has shape {pred.shape}, expected {(gt.shape[0], gt.shape[2])}")
    if not np.isin(pred, (0, 1)).all() or not np.isin(gt, (0, 1)).all():
        raise ValueError("video_labels and gt_visual must be binary (0/1)")
    pred, positive = pred.astype(bool), gt.astype(bool).any(axis=1)
    tp = int((pred & positive).sum())
    n_pred, n_pos = int(pred.sum()), int(positive.sum())
    return {"precision": 100.0 * tp / n_pred if n_pred else 0.0,
            "recall": 100.0 * tp / n_pos if n_pos else 0.0}


def segment_event_f(segment_labels: np.ndarray, gt_visual: np.ndarray) -> dict[str, float]:
    """Visual segment- and event-level F (%) of segment labels [N, T, C], as the metric.

    Per-video macro F over counted classes, averaged over videos, with the metric's edge
    cases (a video with neither labels nor GT scores 1.0); no video-level gating.
    """
    return {"segment_f": float(100 * np.mean(segment_f(gt_visual, segment_labels))),
            "event_f": float(100 * np.mean(event_f(gt_visual, segment_labels)))}


def dense_truth(split, modality: str) -> np.ndarray:
    """The dense labels [N, T, C] of one modality ("visual" or "audio")."""
    return {"visual": split.gt_visual, "audio": split.gt_audio}[modality]


def label_quality(split, segment_labels: dict[str, np.ndarray], modality: str = "visual") -> dict:
    """Tables I and II for one split (with dense GT): the weak video label used as the
    modality's label ("video_label", video level only) and each named set of segment labels,
    against the dense truth of that modality."""
    gt = dense_truth(split, modality)
    return {
        "videos": len(split.video_ids),
        "video_level": {"video_label": video_level_precision_recall(split.weak_labels, gt),
                        **{name: video_level_precision_recall(labels.max(axis=1), gt)
                           for name, labels in segment_labels.items()}},
        "segment_event": {name: segment_event_f(labels, gt) for name, labels in segment_labels.items()},
    }


def video_label_segments(split, modality: str) -> dict[str, float]:
    """Segment- and event-level F of the video label on every segment: the labels a row without
    pseudo labels assumes, against which the report weighs each pseudo-label set."""
    truth = dense_truth(split, modality)
    every_segment = np.repeat(np.asarray(split.weak_labels)[:, None, :], truth.shape[1], axis=1)
    return segment_event_f(every_segment, truth)


def study_key(k: int, alpha: float) -> str:
    """The name of one PLD setting in the parameter study (a row of the paper's Table II)."""
    return f"K = {k}, α = {alpha:g}"


def pld_parameter_study(split, plg_labels: np.ndarray, forward_loss: np.ndarray,
                        ks: list[int], alphas: list[float], modality: str = "visual") -> dict[str, dict[str, float]]:
    """The paper's study of K and α (Sec. V-B, Table II) on a split with dense GT:
    segment/event F of the PLG labels refined with every (K, α), from one stage-1 model's
    forward-loss matrix [N, T, C]. The paper chose its K = 5, α = 10 this way on LLP's val set;
    another data set, or a stage-1 model trained on less data, may need others."""
    gt = dense_truth(split, modality)
    return {study_key(k, alpha): segment_event_f(denoise(forward_loss, plg_labels, k=k, alpha=alpha), gt)
            for k in ks for alpha in alphas}
