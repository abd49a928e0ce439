"""Probabilities of trained parsers: every seed of a seed batch at once, or one model."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vplan_core.data.dataset import Features, Tensors
from vplan_core.models import frame_probabilities
from vplan_core.models.seed_batch import SeedBatch


@torch.inference_mode()
def predict_seeds(batch: SeedBatch, inputs: Tensors, chunk: int = 256,
                  as_probabilities: bool = False) -> dict[str, np.ndarray]:
    """video_prob [S, N, C], audio_prob and visual_prob [S, N, T, C] (float32 numpy) of every
    seed on the same inputs ([N, ...] tensors on the batch's device), `chunk` videos a call.
    The frame outputs as they are (what the evaluation thresholds), or as_probabilities: read
    as the losses read them (models.frame_probabilities; differs for MGN only)."""
    video, frame = [], []
    for start in range(0, inputs[0].shape[0], chunk):
        outputs = batch(*(x[start:start + chunk] for x in inputs), shared_inputs=True)
        video_prob = outputs[0]  # p of the common contract
        frame_prob = frame_probabilities(batch.base, outputs) if as_probabilities else outputs[3]
        video.append(video_prob)
        frame.append(frame_prob)
    video_prob = torch.cat(video, dim=1).float().cpu().numpy()
    frame_prob = torch.cat(frame, dim=1).float().cpu().numpy()
    return {"video_prob": video_prob, "audio_prob": np.ascontiguousarray(frame_prob[:, :, :, 0]),
            "visual_prob": np.ascontiguousarray(frame_prob[:, :, :, 1])}


def predict(model: nn.Module, features: Features, device: str = "cpu", chunk: int = 256) -> dict[str, np.ndarray]:
    """The same for one model: video_prob [N, C], audio_prob and visual_prob [N, T, C]."""
    batch = SeedBatch([model]).to(device)
    return {key: value[0] for key, value in predict_seeds(batch, features.to_tensors(device), chunk).items()}
