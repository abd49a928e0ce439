"""Parsers for audio-visual video parsing: one module per family, and the registry that builds them.

Every family's forward takes (audio [B,T,A], visual_2d [B,T*f,D2], visual_3d [B,T,D3], noise)
and returns the common contract the losses and metrics use, (p [B,C], p^a [B,C], p^v [B,C],
frame_prob [B,T,2,C]), followed by whatever extra outputs its own loss needs; a family's
`extra_loss` (a small named adapter) turns those into the terms its official loss adds to the
row's loss. All randomness of a training forward is read from a noise tape (models/noise.py),
so that every family trains several seeds as one vmapped model (models/seed_batch.py).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from vplan_core.models.han import HAN


@dataclass(frozen=True)
class Family:
    """A parser family: its model class and the adapter of its extra loss terms ("module:name")."""

    name: str
    model: str
    extra_loss: str | None = None

    @property
    def model_class(self) -> type[nn.Module]:
        return _load(self.model)

    def build(self, **kwargs) -> nn.Module:
        return self.model_class(**kwargs)

    def extra_loss_fn(self) -> Callable | None:
        """(extra outputs, video labels, segment labels, LossConfig) -> the extra terms, or None."""
        return _load(self.extra_loss) if self.extra_loss else None


def _load(ref: str):
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("han", "vplan_core.models.han:HAN"),
    Family("mgn", "vplan_core.models.mgn:MGN", extra_loss="vplan_core.models.mgn:mgn_loss_extra"),
    Family("mm_pyramid", "vplan_core.models.mm_pyramid:MMPyramid"),
)}


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise ValueError(f"unknown parser family {name!r}; choose one of {tuple(FAMILIES)}")
    return FAMILIES[name]


def family_of(model: nn.Module) -> str:
    """The registry name of a model's family."""
    for name, f in FAMILIES.items():
        if type(model).__module__ + ":" + type(model).__name__ == f.model:
            return name
    raise ValueError(f"{type(model).__name__} is no registered parser family")


__all__ = ["FAMILIES", "HAN", "Family", "family", "family_of"]
