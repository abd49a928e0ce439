"""The metric protocol a data set is scored by (its description's `metric`), one entry each.

LLP's (metrics.py, AVVP-ECCV20: segments gated by the video-level probability, per-video F over
fixed-length videos) and LFAV's (lfav_metric.py, GeWu-Lab/LFAV: each modality gated by its own
video-level probability, per-video F over videos of any length, segment mAP). A protocol scores
one seed's predictions against the dense GT and says which of its numbers selects the epoch
(each official training loop keeps the epoch where that number is best).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from vplan_core.data.annotations import Split, dense_row_counts, subset_split, with_lengths
from vplan_core.data.description import DatasetDescription
from vplan_core.evaluation.metrics import _split_rows, avvp_metrics, binarize, evaluate_predictions


def _llp_segments(pred: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return binarize(pred["audio_prob"], pred["visual_prob"], pred.get("video_prob"))


def _lfav_segments(pred: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each modality's frames >= 0.5 where its own video-level probability is (LFAV's gating)."""
    return tuple(((np.asarray(pred[f"{m}_prob"]) >= 0.5) & (np.asarray(pred[f"{m}_video_prob"]) >= 0.5)[:, None, :])
                 .astype(np.uint8) for m in ("audio", "visual"))


def _llp(pred: Mapping[str, np.ndarray], gt_audio: np.ndarray, gt_visual: np.ndarray) -> dict:
    return avvp_metrics(gt_audio, gt_visual, *_llp_segments(pred))


def _lfav(pred: Mapping[str, np.ndarray], gt_audio: np.ndarray, gt_visual: np.ndarray) -> dict:
    from vplan_core.evaluation.lfav_metric import lfav_metrics

    lengths = np.asarray(pred["lengths"]) if "lengths" in pred else np.full(len(gt_audio), gt_audio.shape[1])
    cut = lambda a: [a[i, :n] for i, n in enumerate(lengths.tolist())]  # noqa: E731
    return lfav_metrics(cut(gt_audio), cut(gt_visual), cut(pred["audio_prob"]), cut(pred["visual_prob"]),
                        pred["audio_video_prob"], pred["visual_video_prob"])


@dataclass(frozen=True)
class Protocol:
    title: str
    score: Callable[[Mapping[str, np.ndarray], np.ndarray, np.ndarray], dict]
    selection: tuple[str, ...]  # the key path of the number that selects the epoch
    selection_title: str
    modality_probs: bool  # whether it reads p^a and p^v (predict_seeds' modality_probs)
    segments: Callable[[Mapping[str, np.ndarray]], tuple[np.ndarray, np.ndarray]]  # the binary predictions it scores

    def selection_score(self, metrics: dict) -> float:
        """The number that selects the epoch; NaN (LFAV's mAP where a class has no GT in a small
        val split, as in its official code) counts as the lowest, so that the last such epoch is
        kept instead of none (the official loop would save no model)."""
        value = metrics
        for key in self.selection:
            value = value[key]
        return -math.inf if math.isnan(value) else float(value)


PROTOCOLS: dict[str, Protocol] = {
    "llp": Protocol("AVVP-ECCV20 (docs/metric.md)", _llp, ("segment_level", "type_at_av"), "Type@AV", False,
                    _llp_segments),
    "lfav": Protocol("GeWu-Lab/LFAV (docs/metric.md §9)", _lfav, ("selection",), "(mAP + event Type@AV) / 2", True,
                     _lfav_segments),
}


def score_predictions(pred: Mapping[str, np.ndarray], split: Split, description: DatasetDescription,
                      allow_missing: bool = False) -> dict:
    """A PRED.npz's numbers on `split` (with its dense rows) by the data set's protocol. LLP's:
    metrics.evaluate_predictions. Videos of any length: the predictions carry each video's
    length (its feature rows), which the GT is built to; the videos are scored in the split's
    file order, as the official loop does; with allow_missing only those with a prediction
    (the means over them, the count warned). Their numbers also count the dense rows the
    official code handles in its own way (annotations.dense_row_counts)."""
    if description.fixed_length:
        return evaluate_predictions(pred, split, allow_missing=allow_missing)
    ordered, scored = scored_split(pred, split, description)
    missing = len(split.filenames) - len(scored.filenames)
    if missing and not allow_missing:
        raise ValueError(f"{missing} of {len(split.filenames)} {split.name} videos have no prediction")
    if missing:
        warnings.warn(f"scoring {len(scored.filenames)} of {len(split.filenames)} {split.name} videos; {missing} "
                      "have no prediction", stacklevel=2)
    scores = PROTOCOLS[description.metric].score(ordered, scored.gt_audio, scored.gt_visual)
    return {**scores, "dense_rows": dense_row_counts(scored, description)}


def scored_split(pred: Mapping[str, np.ndarray], split: Split, description: DatasetDescription
                 ) -> tuple[dict[str, np.ndarray], Split]:
    """A PRED.npz of videos of any length and `split` aligned: the predictions in the split's
    file order, and the split restricted to their videos with the GT of their lengths."""
    rows = _split_rows([str(x) for x in np.asarray(pred["video_ids"]).tolist()], split)
    order = np.argsort(rows)
    scored = with_lengths(subset_split(split, rows[order].tolist()), np.asarray(pred["lengths"])[order], description)
    return {key: np.asarray(pred[key])[order] for key in pred}, scored
