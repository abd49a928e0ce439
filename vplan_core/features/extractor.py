"""What every feature's extractor is made of: what it reads, its model input, a batched forward,
provenance.

Each feature's builder (feature_registry: Feature.extractor) returns an Extractor; extract.py
runs all of a job's extractors over a shard from one decode per video (decoding.py).
On CUDA the model runs in bfloat16 with channels-last convolutions (place_model); the stored
features are float32 either way.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from vplan_core.data.video import VideoError

from .decoding import Decoded, DecodePlan, Needs, decode_window

FRAME_RULE = "frame on screen at t (last pts <= t), clamped to the clip"
RESIZE_RULE = "shorter side to frame_size (bilinear, antialiased, torch), centre crop"


@dataclass
class Extractor:
    """One feature's extractor.

    needs: what it reads of a window; prepare(decoded) is its input of that window [units, ...]
    on `device` (frames resized and cropped to the model's size, still uint8, or the audio front
    end's output); run maps stacked inputs [B, ...] to outputs [B, D] on `device`, normalising
    frames first (on the device, in the model's dtype).
    """

    needs: Needs
    prepare: Callable[[Decoded], torch.Tensor]
    run: Callable[[torch.Tensor], torch.Tensor]
    per_video_shape: Callable[[], list[int]]
    model: str
    weights: str
    weights_sha256: str
    sampling: dict
    attrs: dict = field(default_factory=dict)  # feature-specific provenance
    batch_size: int = 64
    device: torch.device = torch.device("cpu")

    def compute(self) -> dict:
        """Where and in which precision the model ran (a store's "compute" attr): bfloat16 on
        CUDA gives features within bfloat16's precision of a CPU run's."""
        return {"device": self.device.type, "dtype": str(model_dtype(self.device)).removeprefix("torch.")}

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """run over `inputs` in batches of batch_size."""
        return torch.cat([self.run(inputs[i:i + self.batch_size]) for i in range(0, len(inputs), self.batch_size)])

    def window_features(self, path: str | os.PathLike, offset_s: float = 0.0) -> np.ndarray:
        """Features [units, D] of one video's window starting offset_s after the configured one."""
        return windows_features({"self": self}, path, offset_s)["self"]


def windows_features(extractors: dict[str, Extractor], path: str | os.PathLike, offset_s: float = 0.0
                     ) -> dict[str, np.ndarray]:
    """Each extractor's features [units, D] of one window, from one decode of it."""
    decoded = decode_window(path, DecodePlan.union(ex.needs for ex in extractors.values()), offset_s)
    first = next(iter(extractors.values()))
    decoded.to(first.device)
    out = {}
    for name, ex in extractors.items():
        problem = decoded.problem(ex.needs)
        if problem:
            raise VideoError(path, *problem.split(": ", 1))
        out[name] = ex.forward(ex.prepare(decoded)).float().cpu().numpy()
    return out


def model_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 on CUDA (tensor cores, half the traffic), float32 elsewhere."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def place_model(model: torch.nn.Module, device: torch.device, channels_last: str | None = None
                ) -> torch.nn.Module:
    """The model in eval mode on `device` in model_dtype; channels_last "2d" or "3d" lays its
    convolutions' activations out as cuDNN prefers (CUDA only)."""
    model = model.eval().to(device=device, dtype=model_dtype(device))
    if torch.device(device).type == "cuda" and channels_last:
        model = model.to(memory_format=torch.channels_last if channels_last == "2d" else torch.channels_last_3d)
    return model


def torch_runner(model: torch.nn.Module, to_input: Callable[[torch.Tensor, torch.dtype], torch.Tensor] | None = None
                 ) -> Callable[[torch.Tensor], torch.Tensor]:
    """run() of a plain module: inputs made model input by `to_input(batch, dtype)` (normalised
    frames) or cast to the model's dtype, float32 outputs on the device."""
    dtype = next(model.parameters()).dtype

    def run(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(to_input(batch, dtype) if to_input else batch.to(dtype)).float()
    return run


def common_needs(s: dict, frame_times=(), audio_rate: int | None = None, frame_size: int | None = None) -> Needs:
    return Needs(frame_times=tuple(float(t) for t in frame_times), frame_size=frame_size, audio_rate=audio_rate,
                 seconds=s.get("seconds", 10), start_s=s.get("start_s", 0.0), decoder=s.get("decoder", "auto"))


def common_sampling(s: dict) -> dict:
    return {"seconds": s.get("seconds", 10), "start_s": s.get("start_s", 0.0),
            "decoder": s.get("decoder", "auto")}

