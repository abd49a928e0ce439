"""Join annotations, feature stores and label files into the arrays one training run needs.

A split is restricted to the videos present in every store (real LLP is incomplete: deleted
videos, clips without audio); how many were left out is returned so callers can report it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import torch

from vplan_core import atomic
from vplan_core.feature_registry import DEFAULT_INPUTS
from vplan_core.feature_store import available_ids, load_features
from vplan_core.data.annotations import Split, load_split, subset_split

Tensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass
class Features:
    """Parser inputs of one split, row order = video_ids: audio [N,10,A] (or feature maps of the
    whole clip, [N,64,A]), visual_2d [N,80,D2] (or one row a segment, [N,10,D2]), visual_3d
    [N,10,D3] (float32 numpy)."""

    video_ids: list[str]
    audio: np.ndarray
    visual_2d: np.ndarray
    visual_3d: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.video_ids)
        for name in ("audio", "visual_2d", "visual_3d"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"{name} has {getattr(self, name).shape[0]} rows for {n} videos")

    def to_tensors(self, device: str | torch.device) -> Tensors:
        return tuple(torch.as_tensor(np.asarray(a, dtype=np.float32)).to(device)
                     for a in (self.audio, self.visual_2d, self.visual_3d))


@dataclass
class TrainingSet:
    """What a training run learns from: features, video labels [N, C] and, for the rows with
    segment pseudo labels, those labels ([N, T, C] for every seed, or [S, N, T, C] one set a
    seed: row 5's PLD labels come from each seed's own stage-1 model); rows 6-7 also audio
    segment pseudo labels, of the same shapes; modality_labels: each modality's video labels
    [N, 2, C] (audio, visual) where the data set has them (LFAV), None where not (LLP)."""

    features: Features
    video_labels: np.ndarray
    segment_labels: np.ndarray | None = None
    audio_segment_labels: np.ndarray | None = None
    modality_labels: np.ndarray | None = None


@dataclass
class ValidationSet:
    """What a training run selects its epochs on: features and the dense ground truth."""

    features: Features
    gt_audio: np.ndarray
    gt_visual: np.ndarray


@dataclass
class SplitData:
    split: Split  # restricted to the videos that have every feature
    features: Features
    n_missing: int  # split videos without features (deleted, skipped)

    def training_set(self, segment_labels: np.ndarray | None = None,
                     audio_segment_labels: np.ndarray | None = None) -> TrainingSet:
        split = self.split
        modality = (None if split.weak_audio is None or split.weak_visual is None
                    else np.stack([split.weak_audio, split.weak_visual], axis=1))
        return TrainingSet(self.features, split.weak_labels, segment_labels, audio_segment_labels, modality)

    def validation_set(self) -> ValidationSet:
        return ValidationSet(self.features, self.split.gt_audio, self.split.gt_visual)


def load_split_data(annotation_dir: str | Path, split_name: str, stores: dict[str, list[str]],
                    only: set[str] | None = None, inputs: dict[str, str] = DEFAULT_INPUTS) -> SplitData:
    """Split annotations plus the parser input features in split order: inputs maps each input
    (audio, visual_2d, visual_3d) to the feature whose stores (stores[feature]) give it, by
    default the HAN features (vggish, cnn2d, r2plus1d).

    only: a further restriction, e.g. the videos that have pseudo labels (a video without its
    CLIP features has none): they count as missing too.
    """
    full = load_split(annotation_dir, split_name)
    present = set.intersection(*(available_ids(stores[feature]) for feature in inputs.values()))
    if only is not None:
        present &= only
    keep = [i for i, vid in enumerate(full.video_ids) if vid in present]
    split = subset_split(full, keep)
    ids = split.video_ids
    features = Features(video_ids=ids, **{role: load_features(stores[feature], ids) for role, feature in inputs.items()})
    return SplitData(split=split, features=features, n_missing=len(full.video_ids) - len(ids))


def save_labels(path: str | Path, video_ids: list[str], segment_labels: np.ndarray) -> None:
    """Labels npz (architecture.md): segment labels and their video-level max, written atomically."""
    segment_labels = np.asarray(segment_labels, dtype=np.uint8)
    atomic.savez(path, video_ids=np.asarray(video_ids), segment_labels=segment_labels,
                 video_labels=segment_labels.max(axis=1))


def save_predictions(path: str | Path, filenames: list[str], predictions: dict[str, np.ndarray]) -> None:
    """PRED.npz (architecture.md): what `vplan evaluate` and the report read."""
    atomic.savez(path, video_ids=np.asarray(filenames), audio_prob=predictions["audio_prob"],
                 visual_prob=predictions["visual_prob"], video_prob=predictions["video_prob"])


def labelled_ids(path: str | Path) -> set[str]:
    """The videos a labels npz has labels for."""
    with np.load(path) as data:
        return set(data["video_ids"].tolist())


def load_rows(path: str | Path, key: str, video_ids: list[str], what: str) -> np.ndarray:
    """Array `key` of an npz keyed by its `video_ids`, rows in the order of `video_ids`; a
    missing video is an error naming the file and `what` was looked for."""
    with np.load(path) as data:
        index = {vid: i for i, vid in enumerate(data["video_ids"].tolist())}
        missing = [vid for vid in video_ids if vid not in index]
        if missing:
            raise KeyError(f"{path}: no {what} for {len(missing)} videos, e.g. {missing[:5]}")
        return data[key][[index[vid] for vid in video_ids]]


def load_labels(path: str | Path, video_ids: list[str]) -> np.ndarray:
    """Segment labels [N,10,25] for `video_ids`, in that order; a missing video is an error."""
    return load_rows(path, "segment_labels", video_ids, "labels")
