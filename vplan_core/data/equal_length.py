"""Equal-length training samples of videos of any length, as LFAV's official training makes them.

LFAV trains on batches of videos of different lengths by bringing each to `length` rows
(`ToEqualLengthSample(200)` in GeWu-Lab/LFAV src/dataloader.py): a longer video is strided,
every (T // length)-th row from the first, cut to `length`; a shorter one is interpolated
linearly (torch's F.interpolate, align_corners False). The transform has no randomness, so it
is applied once, not at every epoch; evaluation reads every video whole.

Segment labels (PLG's, one row a second) follow their feature rows by one row map
(source_rows): a longer video's labels are those of its strided rows; a shorter one's, at each
interpolated position, those of the nearest source row. LFAV trains on video labels only, so
its code has no rule for segment labels; interpolating binary labels linearly would make them
fractional, the nearest row keeps them binary and is the row the feature is mostly made of.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def source_rows(rows: int, length: int) -> np.ndarray:
    """The source row of each of the `length` positions of a video of `rows` rows: when
    rows >= length, the rows the stride keeps (every (rows // length)-th from the first, cut
    to `length`); else the nearest row to each position's source coordinate in linear
    interpolation (align_corners False: (i + 0.5) * rows / length - 0.5, clamped to the rows;
    a tie goes to the later row). int64 [length]."""
    if rows < 1:
        raise ValueError(f"a video of {rows} rows has no equal-length sample")
    if rows >= length:
        return np.arange(0, length * (rows // length), rows // length, dtype=np.int64)
    position = (np.arange(length) + 0.5) * (rows / length) - 0.5
    return np.clip(np.floor(position + 0.5), 0, rows - 1).astype(np.int64)


def equal_length_sample(x: np.ndarray, length: int) -> np.ndarray:
    """One video's rows [T, D] as [length, D] float32 (the module docstring's rule)."""
    rows = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise ValueError(f"expected rows [T, D] with T >= 1, got {tuple(rows.shape)}")
    if rows.shape[0] >= length:
        return rows[source_rows(rows.shape[0], length)].numpy()
    stretched = F.interpolate(rows.T.unsqueeze(0).contiguous(), length, mode="linear")
    return stretched.squeeze(0).T.contiguous().numpy()


def equal_length_stack(videos: list[np.ndarray], length: int) -> np.ndarray:
    """Every video's rows brought to `length`: [N, length, D] float32."""
    return np.stack([equal_length_sample(x, length) for x in videos]) if videos else \
        np.zeros((0, length, 0), np.float32)


def equal_length_labels(labels: np.ndarray, lengths: np.ndarray, length: int) -> np.ndarray:
    """Segment labels of videos of any length, [..., N, T_max, C] (video i's first lengths[i]
    rows its own, the rest padding; a leading seed axis allowed), at the rows of their
    equal-length samples (source_rows): [..., N, length, C], same dtype."""
    labels = np.asarray(labels)
    if labels.ndim < 3 or labels.shape[-3] != len(lengths):
        raise ValueError(f"segment labels of shape {labels.shape} for {len(lengths)} videos")
    if len(lengths) and int(np.max(lengths)) > labels.shape[-2]:
        raise ValueError(f"segment labels of {labels.shape[-2]} rows for a video of {int(np.max(lengths))}")
    rows = np.array([source_rows(int(t), length) for t in lengths], dtype=np.int64).reshape(len(lengths), length)
    return np.take_along_axis(labels, np.broadcast_to(rows[..., None], (*labels.shape[:-2], length, 1)), axis=-2)
