"""PLD: pseudo label denoising by forward loss (docs/method.md Eq. 10-11).

A segment whose BCE against its pseudo label is far above the class's most trustworthy
(smallest) losses is taken as mislabelled and flipped. Only classes in the video-level visual
pseudo label ŷ^v are touched. Arrays are [..., T, C] (e.g. [N, T, C], or [S, N, T, C] for the
seeds of a batch); labels uint8.
"""
from __future__ import annotations

import numpy as np

PROB_EPS = 1e-7
DEFAULT_K = 5
DEFAULT_ALPHA = 10.0


def forward_loss_matrix(frame_visual_prob: np.ndarray, segment_labels: np.ndarray) -> np.ndarray:
    """M = element-wise BCE(P^v, Ŷ), P^v clamped to [1e-7, 1-1e-7]; float64 [N, T, C]."""
    p = np.clip(np.asarray(frame_visual_prob, dtype=np.float64), PROB_EPS, 1.0 - PROB_EPS)
    y = np.asarray(segment_labels, dtype=np.float64)
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def denoise(
    loss_matrix: np.ndarray,
    segment_labels: np.ndarray,
    k: int = DEFAULT_K,
    alpha: float = DEFAULT_ALPHA,
) -> np.ndarray:
    """Refined labels Ŷ' = Ŷ XOR b (Eq. 10-11), uint8 of the labels' shape.

    Eq. 10: M̃ = M ⊙ ŷ^v with ŷ^v = max_t Ŷ. Eq. 11, for each (video, class) with ŷ^v = 1:
    θ = α · mean of the K smallest M̃[:, c] over time, b = 1(M̃ > θ). K is clipped to T (with
    K ≥ T, θ is α times the mean over all segments). Classes outside ŷ^v are never flipped,
    so a video without visual pseudo labels stays all zeros.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    labels = np.asarray(segment_labels).astype(np.uint8)
    yv = labels.max(axis=-2, keepdims=True).astype(bool)  # [..., 1, C]
    masked = np.where(yv, np.asarray(loss_matrix, dtype=np.float64), 0.0)
    kk = min(k, masked.shape[-2])
    smallest = np.partition(masked, kk - 1, axis=-2)[..., :kk, :]
    theta = alpha * smallest.mean(axis=-2, keepdims=True)
    flip = (masked > theta) & yv
    return labels ^ flip.astype(np.uint8)
