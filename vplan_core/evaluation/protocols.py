"""The metric protocol a data set is scored by (its description's `metric`), one entry each.

LLP's (metrics.py, AVVP-ECCV20: segments gated by the video-level probability, per-video F over
fixed-length videos) and LFAV's (lfav_metric.py, GeWu-Lab/LFAV: each modality gated by its own
video-level probability, per-video F over videos of any length, segment mAP). A protocol scores
one seed's predictions against the dense GT and says which of its numbers selects the epoch
(each official training loop keeps the epoch where that number is best).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from vplan_core.evaluation.metrics import avvp_metrics, binarize


def _llp(pred: Mapping[str, np.ndarray], gt_audio: np.ndarray, gt_visual: np.ndarray) -> dict:
    return avvp_metrics(gt_audio, gt_visual, *binarize(pred["audio_prob"], pred["visual_prob"], pred["video_prob"]))


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

    def selection_score(self, metrics: dict) -> float:
        value = metrics
        for key in self.selection:
            value = value[key]
        return float(value)


PROTOCOLS: dict[str, Protocol] = {
    "llp": Protocol("AVVP-ECCV20 (docs/metric.md)", _llp, ("segment_level", "type_at_av"), "Type@AV", False),
    "lfav": Protocol("GeWu-Lab/LFAV (docs/metric.md, LFAV)", _lfav, ("selection",), "(mAP + event Type@AV) / 2", True),
}
