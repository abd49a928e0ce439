"""Equal-length training samples of videos of any length, as LFAV's official training makes them.

LFAV trains on batches of videos of different lengths by bringing each to `length` rows
(`ToEqualLengthSample(200)` in GeWu-Lab/LFAV src/dataloader.py): a longer video is strided,
every (T // length)-th row from the first, cut to `length`; a shorter one is interpolated
linearly (torch's F.interpolate, align_corners False). The transform has no randomness, so it
is applied once, not at every epoch; evaluation reads every video whole.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def equal_length_sample(x: np.ndarray, length: int) -> np.ndarray:
    """One video's rows [T, D] as [length, D] float32 (the module docstring's rule)."""
    rows = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise ValueError(f"expected rows [T, D] with T >= 1, got {tuple(rows.shape)}")
    if rows.shape[0] >= length:
        return rows[::rows.shape[0] // length][:length].numpy()
    stretched = F.interpolate(rows.T.unsqueeze(0).contiguous(), length, mode="linear")
    return stretched.squeeze(0).T.contiguous().numpy()


def equal_length_stack(videos: list[np.ndarray], length: int) -> np.ndarray:
    """Every video's rows brought to `length`: [N, length, D] float32."""
    return np.stack([equal_length_sample(x, length) for x in videos]) if videos else \
        np.zeros((0, length, 0), np.float32)
