"""Features resident on the training device: only what the family reads, each split uploaded once.

A family that reads the 2D frames only through each segment's mean (Family.frame_means: every
family here) gets the [N, T, D2] means instead of the [N, T*f, D2] frames: 1/f of the device
memory and of the upload (LLP's train split at f = 8: 0.8 GB instead of 6.6 GB). The means are
taken on the device, a chunk of videos at a time, so the frames cross to it once and are never
all there. A chain of trainings (row ④, its PLD, row ⑤) shares one Resident, so each split goes
to the device once per chain instead of once per train() call.
"""
from __future__ import annotations

import numpy as np
import torch

from vplan_core.data.dataset import Features, Tensors

CHUNK = 1024  # videos uploaded at a time when only their frame means stay


def upload(features: Features, device: torch.device, frame_means: bool) -> Tensors:
    """(audio, visual_2d, visual_3d) on device; visual_2d as per-segment frame means if frame_means."""
    audio, visual_2d, visual_3d = (torch.as_tensor(np.asarray(a, dtype=np.float32))
                                   for a in (features.audio, features.visual_2d, features.visual_3d))
    segments = visual_3d.shape[1]
    if frame_means and visual_2d.shape[1] != segments:
        frames = visual_2d.shape[1] // segments
        visual_2d = torch.cat([chunk.to(device).reshape(-1, segments, frames, chunk.shape[-1]).mean(2)
                               for chunk in visual_2d.split(CHUNK)])
    return audio.to(device), visual_2d.to(device), visual_3d.to(device)


class Resident:
    """The device copies of the splits a run (or a chain of runs) trains and evaluates on, made on
    first use. A copy is keyed by its Features object, which the cache holds (so the key is not
    reused), and by whether the frames or their means were asked for."""

    def __init__(self, device: str | torch.device):
        self.device = torch.device(device)
        self.copies: dict[tuple[int, bool], tuple[Features, Tensors]] = {}

    def __call__(self, features: Features, frame_means: bool) -> Tensors:
        key = (id(features), frame_means)
        if key not in self.copies:
            self.copies[key] = (features, upload(features, self.device, frame_means))
        return self.copies[key][1]
