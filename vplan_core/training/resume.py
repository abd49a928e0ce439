"""Per-epoch training state, so that a stopped or killed training continues where it stopped.

The state is trusted only for the same settings (device and epochs may differ) and the same
data; anything else starts from epoch 1. Written atomically, like every file of a run.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from vplan_core import atomic
from vplan_core.data.dataset import Features


def fingerprint(config, train_features: Features, video_labels: np.ndarray,
                segment_labels: np.ndarray | None, val_features: Features,
                val_gt_audio: np.ndarray, val_gt_visual: np.ndarray) -> dict:
    """What a resumed run must share with the stopped one: the settings (device, epochs and
    compilation may differ) and the data (ids and labels hashed; features by shape, float64 sum
    and a hash of up to 64 evenly spaced videos: one pass and no copy of gigabytes of features)."""
    settings = {k: v for k, v in asdict(config).items() if k not in ("device", "epochs", "compile")}
    digest = hashlib.sha256()
    for ids in (train_features.video_ids, val_features.video_ids):
        digest.update("\n".join(ids).encode() + b"\0")
    for array in (video_labels, segment_labels, val_gt_audio, val_gt_visual):
        if array is not None:
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode() + array.tobytes())
    features = []
    for f in (train_features, val_features):
        for a in (f.audio, f.visual_2d, f.visual_3d):
            sample = np.ascontiguousarray(a[::max(1, len(a) // 64)])
            features.append([list(a.shape), float(np.sum(a, dtype=np.float64)),
                             hashlib.sha256(sample.tobytes()).hexdigest()])
    return {"format": 2, "settings": settings, "labels_sha256": digest.hexdigest(), "features": features}


def save_state(path: str | Path, state: dict) -> None:
    with atomic.replacing(Path(path), ".tmp") as tmp:
        torch.save(state, tmp)


def load_state(path: str | Path, device: torch.device, expected: dict,
               log: Callable[[str], None]) -> dict | None:
    """The saved state if `path` exists and was written for `expected`, else None."""
    if not Path(path).is_file():
        return None
    state = torch.load(path, map_location=device, weights_only=True)
    if state.get("fingerprint") != expected:
        log(f"{path}: saved for other settings or data; training from epoch 1")
        return None
    return state
