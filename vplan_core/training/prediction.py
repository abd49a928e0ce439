"""Probabilities of trained parsers: every seed of a seed batch at once, or one model."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from vplan_core.data.dataset import Features, Tensors
from vplan_core.models import frame_probabilities
from vplan_core.models.seed_batch import SeedBatch


@torch.inference_mode()
def predict_seeds(batch: SeedBatch, inputs: Tensors, chunk: int = 256,
                  as_probabilities: bool = False, modality_probs: bool = False) -> dict[str, np.ndarray]:
    """video_prob [S, N, C], audio_prob and visual_prob [S, N, T, C] (float32 numpy) of every
    seed on the same inputs ([N, ...] tensors on the batch's device), `chunk` videos a call.
    The frame outputs as they are (what the evaluation thresholds), or as_probabilities: read
    as the losses read them (models.frame_probabilities; differs for MGN only). modality_probs:
    also audio_video_prob and visual_video_prob [S, N, C] (p^a, p^v: LFAV's metric gates with them)."""
    video, frame, modality = [], [], []
    for start in range(0, inputs[0].shape[0], chunk):
        outputs = batch(*(x[start:start + chunk] for x in inputs), shared_inputs=True)
        video_prob = outputs[0]  # p of the common contract
        frame_prob = frame_probabilities(batch.base, outputs) if as_probabilities else outputs[3]
        video.append(video_prob)
        frame.append(frame_prob)
        if modality_probs:
            modality.append(torch.stack(outputs[1:3], dim=-2))  # [S, B, 2, C]
    video_prob = torch.cat(video, dim=1).float().cpu().numpy()
    frame_prob = torch.cat(frame, dim=1).float().cpu().numpy()
    out = {"video_prob": video_prob, "audio_prob": np.ascontiguousarray(frame_prob[:, :, :, 0]),
           "visual_prob": np.ascontiguousarray(frame_prob[:, :, :, 1])}
    if modality_probs:
        pair = torch.cat(modality, dim=1).float().cpu().numpy()
        out.update(audio_video_prob=np.ascontiguousarray(pair[:, :, 0]), visual_video_prob=np.ascontiguousarray(pair[:, :, 1]))
    return out


def predict_split(batch: SeedBatch, features: Features, upload: Callable[[Features], Tensors],
                  modality_probs: bool = False) -> dict[str, np.ndarray]:
    """predict_seeds on a split's videos: all at once where they share one length; else a group
    of one length at a time (Features.groups), the frame outputs padded with zeros to the longest
    video ([S, N, T_max, C]) beside `lengths` [N]. upload: a group's Features as device tensors."""
    if not features.ragged:
        return predict_seeds(batch, upload(features), modality_probs=modality_probs)
    lengths = features.lengths
    out: dict[str, np.ndarray] = {}
    for take, group in features.groups:
        pred = predict_seeds(batch, upload(group), modality_probs=modality_probs)
        for key, value in pred.items():
            if key not in out:
                shape = (value.shape[0], len(lengths), *((int(lengths.max()),) if value.ndim == 4 else ()), value.shape[-1])
                out[key] = np.zeros(shape, np.float32)
            if value.ndim == 4:
                out[key][:, take, :value.shape[2]] = value
            else:
                out[key][:, take] = value
    out["lengths"] = lengths
    return out


def seed_predictions(pred: dict[str, np.ndarray], s: int) -> dict[str, np.ndarray]:
    """Seed s's predictions of predict_split's [S, ...] arrays; `lengths` [N] is every seed's."""
    return {key: value if key == "lengths" else value[s] for key, value in pred.items()}


def predict(model: nn.Module, features: Features, device: str = "cpu", chunk: int = 256) -> dict[str, np.ndarray]:
    """The same for one model: video_prob [N, C], audio_prob and visual_prob [N, T, C]."""
    batch = SeedBatch([model]).to(device)
    return {key: value[0] for key, value in predict_seeds(batch, features.to_tensors(device), chunk).items()}
