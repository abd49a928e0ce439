"""Per-dimension input standardisation shared by every parser family (off by default).

Not in the reference models (off by default, so their state dicts load unchanged): the demo's
small in-world backbones give features of uneven scales (VGGish's ReLU embedding: many
dimensions ~0, others up to ~60), which the official LLP features do not have; per-dimension
training-set statistics, kept as buffers, make them O(1).
"""
from __future__ import annotations

import torch
from torch import nn

STD_FLOOR = 0.1  # the smallest scale, relative to the feature's overall deviation
INPUTS = ("audio", "visual_2d", "visual_3d")


class InputStandardization:
    """Mixin for an nn.Module: call init_standardization in __init__, standardize in forward."""

    def init_standardization(self: nn.Module, enabled: bool, dims: dict[str, int]) -> None:
        self.standardize_inputs = enabled
        if enabled:
            for name in INPUTS:
                self.register_buffer(f"{name}_mean", torch.zeros(dims[name]))
                self.register_buffer(f"{name}_std", torch.ones(dims[name]))

    @torch.no_grad()
    def fit_input_statistics(self, audio: torch.Tensor, visual_2d: torch.Tensor, visual_3d: torch.Tensor) -> None:
        """Set the standardisation buffers from training features ([N, T, D] each).

        A dimension's scale is its standard deviation, but at least STD_FLOOR times the root
        mean square of all its feature's deviations: ReLU embeddings (VGGish's) have dimensions
        that are almost always 0 in training, and dividing by their ~0 deviation turned a rare
        activation in val or test into an input of 10^5 (measured on the demo's audio).
        """
        for name, x in zip(INPUTS, (audio, visual_2d, visual_3d)):
            flat = x.reshape(-1, x.shape[-1]).float()
            std = flat.std(0)
            floor = max(STD_FLOOR * float(std.square().mean().sqrt()), 1e-6)
            getattr(self, f"{name}_mean").copy_(flat.mean(0))
            getattr(self, f"{name}_std").copy_(std.clamp_min(floor))

    def standardize(self, audio: torch.Tensor, visual_2d: torch.Tensor, visual_3d: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not self.standardize_inputs:
            return audio, visual_2d, visual_3d
        return tuple((x - getattr(self, f"{name}_mean")) / getattr(self, f"{name}_std")
                     for name, x in zip(INPUTS, (audio, visual_2d, visual_3d)))


def segment_means(visual_2d: torch.Tensor, segments: int, frames_per_segment: int) -> torch.Tensor:
    """[B, T, D2]: the mean of each segment's 2D frames, from the frames [B, T*f, D2] or from those
    means themselves (what the trainer keeps on the device for a family whose FAMILY.frame_means
    says it reads the frames only through them; training/resident.py). With f = 1 the two agree."""
    b, n, d = visual_2d.shape
    if n == segments:
        return visual_2d
    return visual_2d.reshape(b, n // frames_per_segment, frames_per_segment, d).mean(2)
