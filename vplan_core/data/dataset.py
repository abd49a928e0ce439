"""Join annotations, feature stores and label files into the arrays one training run needs.

A split is restricted to the videos present in every store (real LLP is incomplete: deleted
videos, clips without audio); how many were left out is returned so callers can report it.
Videos of any length (LFAV) keep their features as one array per video: training reads them
brought to the data set's equal length (data/equal_length.py), evaluation whole, a group of
videos of one length at a time (Features.groups), so that no video is padded or cut.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

import torch

from vplan_core import atomic
from vplan_core.feature_registry import DEFAULT_INPUTS
from vplan_core.feature_store import available_ids, load_features
from vplan_core.data.annotations import Split, load_split, subset_split, with_lengths
from vplan_core.data.description import LLP, DatasetDescription
from vplan_core.data.equal_length import equal_length_labels, equal_length_stack

Tensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass
class Features:
    """Parser inputs of one split, row order = video_ids: audio [N,T,A] (or feature maps of the
    whole clip, [N,64,A]), visual_2d [N,T*f,D2] (f frames a segment, or one row, f = 1),
    visual_3d [N,T,D3] (float32 numpy; LLP: T = 10, f = 8). Videos of any length: each a list
    of N arrays, video i's of T_i rows (one a second)."""

    video_ids: list[str]
    audio: np.ndarray | list[np.ndarray]
    visual_2d: np.ndarray | list[np.ndarray]
    visual_3d: np.ndarray | list[np.ndarray]

    def __post_init__(self) -> None:
        n = len(self.video_ids)
        for name in ("audio", "visual_2d", "visual_3d"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows for {n} videos")
        if self.ragged:
            rows = [[len(x) for x in getattr(self, name)] for name in ("audio", "visual_2d", "visual_3d")]
            differ = [self.video_ids[i] for i, r in enumerate(zip(*rows)) if len(set(r)) > 1]
            if differ:
                raise ValueError(f"{len(differ)} videos have inputs of different lengths, e.g. {differ[:3]}")

    @property
    def ragged(self) -> bool:
        """Whether the videos' lengths vary (one array per video)."""
        return isinstance(self.audio, list)

    @property
    def lengths(self) -> np.ndarray:
        """Each video's segment count [N]: its audio rows (LFAV's evaluation length), or T."""
        if self.ragged:
            return np.array([len(x) for x in self.audio], dtype=np.int64)
        return np.full(len(self.video_ids), self.visual_3d.shape[1], dtype=np.int64)

    def equal_length(self, length: int) -> Features:
        """Every video brought to `length` rows (data/equal_length.py): what training reads."""
        return Features(self.video_ids, *(equal_length_stack(getattr(self, name), length)
                                          for name in ("audio", "visual_2d", "visual_3d")))

    @cached_property
    def groups(self) -> list[tuple[np.ndarray, Features]]:
        """(positions, their Features as arrays) for each length, shortest first. Made once: a
        device copy (training/resident.py) is kept per Features object."""
        lengths = self.lengths
        out = []
        for length in np.unique(lengths):
            take = np.flatnonzero(lengths == length)
            out.append((take, Features([self.video_ids[i] for i in take],
                                       *(np.stack([getattr(self, name)[i] for i in take])
                                         for name in ("audio", "visual_2d", "visual_3d")))))
        return out

    def to_tensors(self, device: str | torch.device) -> Tensors:
        if self.ragged:
            raise ValueError("videos of different lengths have no single tensor: use Features.groups")
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
    """What a training run selects its epochs on: features, the dense ground truth ([N, T, C],
    T the longest video's, each video's rows past its length 0) and the data set's metric
    protocol (evaluation/protocols.py)."""

    features: Features
    gt_audio: np.ndarray
    gt_visual: np.ndarray
    metric: str = "llp"


@dataclass
class SplitData:
    split: Split  # restricted to the videos that have every feature
    features: Features
    n_missing: int  # split videos without features (deleted, skipped)
    description: DatasetDescription = LLP

    def training_set(self, segment_labels: np.ndarray | None = None,
                     audio_segment_labels: np.ndarray | None = None) -> TrainingSet:
        """Videos of any length train on the data set's equal-length samples, and their segment
        labels ([N, T_max, C] or [S, N, T_max, C], padded past each video's length) on the rows
        of those samples (equal_length_labels: the same row map as the features'). Each
        modality's video labels, where the split has them, are of the video, not of its
        seconds: the same at any length."""
        features, split = self.features, self.split
        if features.ragged:
            length, lengths = self.description.train_length, features.lengths
            segment_labels, audio_segment_labels = (
                None if labels is None else equal_length_labels(labels, lengths, length)
                for labels in (segment_labels, audio_segment_labels))
            features = features.equal_length(length)
        modality = (None if split.weak_audio is None or split.weak_visual is None
                    else np.stack([split.weak_audio, split.weak_visual], axis=1))
        return TrainingSet(features, split.weak_labels, segment_labels, audio_segment_labels, modality)

    def validation_set(self) -> ValidationSet:
        return ValidationSet(self.features, self.split.gt_audio, self.split.gt_visual, self.description.metric)


def load_split_data(annotation_dir: str | Path, split_name: str, stores: dict[str, list[str]],
                    only: set[str] | None = None, inputs: dict[str, str] = DEFAULT_INPUTS,
                    description: DatasetDescription = LLP) -> SplitData:
    """Split annotations plus the parser input features in split order: inputs maps each input
    (audio, visual_2d, visual_3d) to the feature whose stores (stores[feature]) give it, by
    default the HAN features (vggish, cnn2d, r2plus1d).

    only: a further restriction, e.g. the videos that have pseudo labels (a video without its
    CLIP features has none): they count as missing too.
    """
    full = load_split(annotation_dir, split_name, description)
    present = set.intersection(*(available_ids(stores[feature]) for feature in inputs.values()))
    if only is not None:
        present &= only
    keep = [i for i, vid in enumerate(full.video_ids) if vid in present]
    split = subset_split(full, keep)
    ids = split.video_ids
    features = Features(video_ids=ids, **{role: load_features(stores[feature], ids) for role, feature in inputs.items()})
    if not description.fixed_length:
        split = with_lengths(split, features.lengths, description)
    return SplitData(split=split, features=features, n_missing=len(full.video_ids) - len(ids), description=description)


def save_labels(path: str | Path, video_ids: list[str], segment_labels: np.ndarray,
                lengths: np.ndarray | None = None) -> None:
    """Labels npz (architecture.md): segment labels and their video-level max, written atomically;
    for videos of any length also their `lengths` [N], the labels padded with zeros past each
    video's end (pad_videos)."""
    segment_labels = np.asarray(segment_labels, dtype=np.uint8)
    extra = {} if lengths is None else {"lengths": np.asarray(lengths, dtype=np.int64)}
    atomic.savez(path, video_ids=np.asarray(video_ids), segment_labels=segment_labels,
                 video_labels=segment_labels.max(axis=1, initial=0), **extra)


def pad_videos(videos: list[np.ndarray], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-video arrays [T_i, width] as one [N, max T_i, width] array, zeros past each video's
    end, and the lengths [N]."""
    lengths = np.array([len(x) for x in videos], dtype=np.int64)
    padded = np.zeros((len(videos), int(lengths.max(initial=0)), width), dtype=videos[0].dtype if videos else np.uint8)
    for i, x in enumerate(videos):
        padded[i, :len(x)] = x
    return padded, lengths


def save_predictions(path: str | Path, filenames: list[str], predictions: dict[str, np.ndarray]) -> None:
    """PRED.npz (architecture.md): what `vplan evaluate` and the report read; for videos of any
    length also their lengths and the modality video-level probabilities that gate them
    (LFAV's metric), when the predictions carry them."""
    extra = {key: predictions[key] for key in VARIABLE_LENGTH_KEYS if key in predictions}
    atomic.savez(path, video_ids=np.asarray(filenames), audio_prob=predictions["audio_prob"],
                 visual_prob=predictions["visual_prob"], video_prob=predictions["video_prob"], **extra)


VARIABLE_LENGTH_KEYS = ("lengths", "audio_video_prob", "visual_video_prob")


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


def label_lengths(path: str | Path, video_ids: list[str]) -> np.ndarray | None:
    """The lengths [N] of `video_ids` in a labels npz of videos of any length; None for one of
    a fixed length (LLP's have no lengths)."""
    with np.load(path) as data:
        if "lengths" not in data.files:
            return None
    return load_rows(path, "lengths", video_ids, "label lengths")


def load_labels(path: str | Path, video_ids: list[str], lengths: np.ndarray | None = None) -> np.ndarray:
    """Segment labels [N, T, C] for `video_ids`, in that order; a missing video is an error.
    A file of videos of any length (with `lengths`) gives them padded to the longest of these
    videos; their lengths must be `lengths` (the videos' features') when given."""
    labels, stored = load_rows(path, "segment_labels", video_ids, "labels"), label_lengths(path, video_ids)
    if stored is None:
        return labels
    if lengths is not None and not np.array_equal(stored, lengths):
        differ = [(vid, int(a), int(b)) for vid, a, b in zip(video_ids, stored, lengths) if a != b]
        raise ValueError(f"{path}: labels of {len(differ)} videos have other lengths than their features "
                         f"(video, label rows, feature rows), e.g. {differ[:3]}")
    return labels[:, :int(stored.max(initial=0))]
