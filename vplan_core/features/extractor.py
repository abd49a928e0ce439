"""What every feature's extractor is made of: input decoding, a batched forward and provenance.

Each feature's builder (feature_registry: Feature.extractor) returns an Extractor; extract.py
runs one over a shard. Decoding functions run in DataLoader worker processes.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.video import sample_frames

FRAME_RULE = "frame on screen at t (last pts <= t), clamped to the clip"
RESIZE_RULE = "shorter side to frame_size (bilinear, antialiased), centre crop"


@dataclass
class Extractor:
    """One feature's extractor: input decoding, the forward pass and provenance.

    decode(path, offset_s) is the model input of one video's window (the configured window
    shifted by offset_s seconds); window_features runs it end to end for one window.
    """

    decode: Callable[..., np.ndarray]  # (path, offset_s=0.0) -> model input of one window [units, ...]
    run: Callable[[np.ndarray], np.ndarray]  # stacked inputs [B, ...] -> outputs [B, D]
    per_video_shape: Callable[[], list[int]]
    model: str
    weights: str
    weights_sha256: str
    sampling: dict
    attrs: dict = field(default_factory=dict)  # feature-specific provenance
    batch_size: int = 64

    def window_features(self, path: str | os.PathLike, offset_s: float = 0.0) -> np.ndarray:
        """Features [units, D] of one video's window starting offset_s after the configured one."""
        x = self.decode(str(path), offset_s)
        return np.concatenate([self.run(x[i:i + self.batch_size]) for i in range(0, len(x), self.batch_size)])


def decode_frames(path: str, offset_s: float = 0.0, *, times: np.ndarray, size: int, decoder: str,
                  clip_len: int = 0) -> np.ndarray:
    """Frames at `times` (+ offset_s) resized to `size`; as [n / clip_len, clip_len, ...] with clip_len."""
    frames = sample_frames(path, times + offset_s, size, decoder)
    return frames.reshape(-1, clip_len, *frames.shape[1:]) if clip_len else frames


def torch_runner(model: torch.nn.Module, to_input: Callable[[np.ndarray], torch.Tensor]
                  ) -> Callable[[np.ndarray], np.ndarray]:
    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(to_input(batch)).float().cpu().numpy()
    return run


def common_sampling(s: dict) -> dict:
    return {"seconds": s.get("seconds", 10), "start_s": s.get("start_s", 0.0),
            "decoder": s.get("decoder", "auto")}
