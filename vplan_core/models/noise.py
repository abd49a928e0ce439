"""Randomness of a training forward read from a given tensor of uniform noise, site after site.

A forward pass consumes the noise in a fixed order, so the caller decides where the randomness
comes from: in a seed batch (models/seed_batch.py) each seed's noise is drawn from that seed's
own generator, and a seed gets the same masks whether it trains alone or beside others. Every
parser family (HAN, MGN, MM-Pyramid) draws its dropout and stochastic depth from one tape.
"""
from __future__ import annotations

import math

import torch


class DropoutTape:
    """Dropout whose masks are read from `noise`: keep = noise >= p, scaled by 1/(1-p), the
    distribution of nn.Dropout. drop_path reads one number per sample instead of per element.

    A site costs one multiply (and one in backward): the scaled mask of a rate, (noise >= p) /
    (1 - p), is made once per forward for the whole tape, and each site multiplies by its slice
    of it (a view). Comparing, casting and scaling at every site made dropout 4 kernels a site,
    a large share of a step that launches, not arithmetic, bounds. Each site reads the same
    numbers as it would from a per-site mask; only the rounding of the scaling may differ.
    """

    def __init__(self, noise: torch.Tensor, p: float):
        self.noise, self.p, self.used = noise, p, 0
        self.scaled_masks: dict[float, torch.Tensor] = {}

    def _span(self, n: int) -> slice:
        span = slice(self.used, self.used + n)
        self.used += n
        return span

    def take(self, shape: tuple[int, ...]) -> torch.Tensor:
        """The next numel(shape) uniform numbers, shaped."""
        return self.noise[self._span(math.prod(shape))].view(shape)

    def _mask(self, p: float, shape: tuple[int, ...]) -> torch.Tensor:
        """The next numel(shape) numbers' keep mask at rate p, scaled by 1/(1-p), shaped."""
        if p not in self.scaled_masks:
            self.scaled_masks[p] = (self.noise >= p) * (1.0 / (1.0 - p))
        return self.scaled_masks[p][self._span(math.prod(shape))].view(shape)

    def __call__(self, x: torch.Tensor, p: float | None = None) -> torch.Tensor:
        return x * self._mask(self.p if p is None else p, tuple(x.shape))

    def drop_path(self, x: torch.Tensor, p: float) -> torch.Tensor:
        """Stochastic depth (timm's DropPath): the whole residual branch of a sample is kept
        with probability 1 - p, scaled by 1/(1-p); x is [B, ...]."""
        return x * self._mask(p, (x.shape[0],) + (1,) * (x.dim() - 1))

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
