"""Randomness of a training forward read from a given tensor of uniform noise, site after site.

A forward pass consumes the noise in a fixed order, so the caller decides where the randomness
comes from: in a seed batch (models/seed_batch.py) each seed's noise is drawn from that seed's
own generator, and a seed gets the same masks whether it trains alone or beside others. Every
parser family (HAN, MGN, MM-Pyramid) draws its dropout and stochastic depth from one tape.
"""
from __future__ import annotations

import torch


class DropoutTape:
    """Dropout whose masks are read from `noise`: keep = noise >= p, scaled by 1/(1-p), the
    distribution of nn.Dropout. drop_path reads one number per sample instead of per element."""

    def __init__(self, noise: torch.Tensor, p: float):
        self.noise, self.p, self.used = noise, p, 0

    def take(self, shape: tuple[int, ...]) -> torch.Tensor:
        """The next numel(shape) uniform numbers, shaped."""
        n = 1
        for size in shape:
            n *= size
        out = self.noise[self.used:self.used + n].view(shape)
        self.used += n
        return out

    def __call__(self, x: torch.Tensor, p: float | None = None) -> torch.Tensor:
        p = self.p if p is None else p
        keep = self.take(tuple(x.shape)) >= p
        return x * keep.to(x.dtype) / (1.0 - p)

    def drop_path(self, x: torch.Tensor, p: float) -> torch.Tensor:
        """Stochastic depth (timm's DropPath): the whole residual branch of a sample is kept
        with probability 1 - p, scaled by 1/(1-p); x is [B, ...]."""
        keep = self.take((x.shape[0],)) >= p
        return x * (keep.to(x.dtype) / (1.0 - p)).view(-1, *([1] * (x.dim() - 1)))

    def check_used(self) -> None:
        """A forward must consume exactly the noise its noise_size announced."""
        if self.used != self.noise.shape[-1]:
            raise ValueError(f"dropout noise of {self.noise.shape[-1]} numbers for a forward that uses {self.used}")


class NoDropout:
    """Evaluation: every random site is the identity."""

    def __call__(self, x: torch.Tensor, p: float | None = None) -> torch.Tensor:
        return x

    def drop_path(self, x: torch.Tensor, p: float) -> torch.Tensor:
        return x

    def check_used(self) -> None:
        pass


no_dropout = NoDropout()


def tape(module: torch.nn.Module, noise: torch.Tensor | None, size: int, p: float, device) -> DropoutTape | NoDropout:
    """The tape of one forward: `noise` (drawn from the global generator when None) in training
    mode when the model has random sites (size > 0), else no dropout."""
    if not (module.training and size):
        return no_dropout
    if noise is None:
        noise = torch.rand(size, device=device)
    return DropoutTape(noise, p)
