"""Per-epoch training state on disk, so that a stopped or killed training continues where it stopped.

The state (training/state.py) is trusted only for the same settings (device and epochs may
differ, as long as the state has not gone past the epoch count) and the same data; anything
else starts from epoch 1. A state that cannot be read (a torn copy, a full disk) is moved aside
with a warning, so that the job starts over instead of failing on every retry. Written
atomically and durably, like every file of a run.
"""
from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from vplan_core import atomic
from vplan_core.data.dataset import TrainingSet, ValidationSet
from vplan_core.training.state import TrainingState


def fingerprint(config, train_set: TrainingSet, val_set: ValidationSet) -> dict:
    """What a resumed run must share with the stopped one: the settings (device, epochs and
    compilation may differ; epochs not under warmup_cosine, whose cosine ends at the last epoch)
    and the data (ids and labels hashed; features by shape, float64 sum and a hash of up to 64
    evenly spaced videos: one pass and no copy of gigabytes of features). Segment labels (visual,
    audio) and each modality's video labels count only for a loss that reads them."""
    free = ("device", "compile") if config.schedule == "warmup_cosine" else ("device", "epochs", "compile")
    settings = {k: v for k, v in asdict(config).items() if k not in free}
    segment_labels = train_set.segment_labels if config.loss.needs_segment_labels else None
    audio_labels = train_set.audio_segment_labels if config.loss.needs_audio_labels else None
    modality_labels = train_set.modality_labels if config.loss.needs_modality_labels else None
    digest = hashlib.sha256()
    for ids in (train_set.features.video_ids, val_set.features.video_ids):
        digest.update("\n".join(ids).encode() + b"\0")
    for array in (train_set.video_labels, segment_labels, audio_labels, modality_labels, val_set.gt_audio,
                  val_set.gt_visual):
        if array is not None:
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode() + array.tobytes())
    features = []
    for f in (train_set.features, val_set.features):
        for a in (f.audio, f.visual_2d, f.visual_3d):
            a = np.concatenate(a) if isinstance(a, list) else a  # videos of any length: their rows
            sample = np.ascontiguousarray(a[::max(1, len(a) // 64)])
            features.append([list(a.shape), float(np.sum(a, dtype=np.float64)),
                             hashlib.sha256(sample.tobytes()).hexdigest()])
    # format 3: the state holds its log lines and seconds (state.py); an older state is not read
    return {"format": 3, "settings": settings, "labels_sha256": digest.hexdigest(), "features": features}


def save(path: str | Path, expected: dict, state: TrainingState) -> None:
    """`state` after its epoch, with the fingerprint of the run it belongs to."""
    with atomic.replacing(Path(path), ".tmp") as tmp:
        torch.save({"fingerprint": expected, **state.state_dict()}, tmp)


def restore(path: str | Path, expected: dict, state: TrainingState, device: torch.device,
            log: Callable[[str], None], epochs: int) -> bool:
    """Load the saved state into `state` if `path` exists, was written for `expected` and has
    not gone past `epochs` (a state past it could give a best model from past the limit)."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
        if not isinstance(saved, dict):
            raise ValueError(f"it holds a {type(saved).__name__}, not a training state")
    except (RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        aside = path.with_name(path.name + ".unreadable")
        path.replace(aside)
        log(f"warning: {path}: unreadable training state ({' '.join(str(exc).split())[:200]}); "
            f"moved aside to {aside}; training from epoch 1")
        return False
    if saved.get("fingerprint") != expected:
        log(f"{path}: saved for other settings or data; training from epoch 1")
        return False
    if saved.get("epoch", 0) > epochs:
        log(f"{path}: saved after epoch {saved['epoch']}, past the {epochs} epochs now set; "
            "training from epoch 1")
        return False
    state.load_state_dict(saved)
    for line in state.lines:  # the stopped attempts' epochs, as they were logged
        log(line)
    log(f"resuming after epoch {state.epoch} from {path}")
    return True
