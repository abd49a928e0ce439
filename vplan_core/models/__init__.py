"""Parsers for audio-visual video parsing: one module per family, and the registry that names them.

Every family's forward takes (audio [B,T,A], visual_2d [B,T*f,D2], visual_3d [B,T,D3], noise)
and returns the common contract the losses and metrics use, (p [B,C], p^a [B,C], p^v [B,C],
frame_prob [B,T,2,C]), followed by whatever extra outputs its own loss needs. All randomness of
a training forward is read from a noise tape (models/noise.py), so that every family trains
several seeds as one vmapped model (models/seed_batch.py).

A family module exposes FAMILY (a Family: its title, model class, builder, extra loss and the
paper's figures for it); the registry below is one line per family and stays torch-free, so
that the workflow plans (and the config schema lists the families) without importing torch.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Family:
    """A parser family. build_kwargs: (TrainConfig) -> the constructor arguments its builder takes
    from the run's training settings (beside the input sizes and models.<family>.kwargs);
    extra_loss: (extra outputs, video labels, segment labels..., LossConfig) -> the terms its
    official loss adds, or None; paper: row -> the paper's Table V figures (segment then event
    level A / V / AV / Type@AV / Event@AV); frame_means: the family reads the 2D frames only
    through each segment's mean, taken first (an affine fc_v then the official average pooling
    is the same function, and so is the per-feature input standardisation before it), so the
    trainer keeps the [N, T, D2] means on the device instead of the [N, T*f, D2] frames.

    Frame outputs: HAN's, MM-Pyramid's and VALOR's are per-second sigmoids, probabilities. MGN's
    are a class probability times a temporal weight in [1, 2) (models/mgn.py): its model class
    defines frame_probability(outputs), the per-second probabilities the losses defined on
    probabilities (the richness-aware loss, segment BCE) and PLD's forward loss read
    (frame_probabilities below). The evaluation thresholds the outputs as each family's
    official code does."""

    title: str
    model_class: type
    build_kwargs: Callable[[object], dict] = lambda config: {}
    extra_loss: Callable | None = None
    paper: dict[str, tuple[float, ...]] = field(default_factory=dict)
    frame_means: bool = False

    def build(self, **kwargs):
        return self.model_class(**kwargs)


@dataclass(frozen=True)
class Registered:
    """A registry line: the family's module, the train.* keys its builder reads (a change of
    any other family's keys reruns nothing of this one; family() checks them against the builder
    when it loads the module), and the segment count it needs, where it needs one (the plan
    refuses it for a data set of other or varying lengths)."""

    module: str
    train_keys: tuple[str, ...] = ()
    segments: int | None = None  # the one segment count its official code is built for, if any


FAMILIES: dict[str, Registered] = {
    "han": Registered("vplan_core.models.han", train_keys=("d_model", "dropout")),
    "mgn": Registered("vplan_core.models.mgn", segments=10),  # 10 group tokens, hard-coded (models/mgn.py)
    "mm_pyramid": Registered("vplan_core.models.mm_pyramid"),
    "valor": Registered("vplan_core.models.valor"),
}
DEFAULT_FAMILY = "han"  # the configuration's default (train.models), and a checkpoint's that names none


class _Reads:
    """Training settings that record which of them a builder reads (each reads as 1)."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def __getattr__(self, key: str) -> int:
        self.keys.add(key)
        return 1


def family(name: str) -> Family:
    """The family's description, its registry line's train_keys checked against what its
    builder reads (a key left out would be dropped from its settings in silence)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown parser family {name!r}; choose one of {tuple(FAMILIES)}")
    loaded = importlib.import_module(FAMILIES[name].module).FAMILY
    settings = _Reads()
    loaded.build_kwargs(settings)
    if settings.keys != set(FAMILIES[name].train_keys):
        raise ValueError(f"parser family {name!r}: its builder reads train.{sorted(settings.keys)}, its registry line "
                         f"FAMILIES[{name!r}].train_keys names {sorted(FAMILIES[name].train_keys)}")
    return loaded


def frame_probabilities(model, outputs: tuple) -> "torch.Tensor":
    """outputs' frame outputs [.., T, 2, C] as probabilities: the model's frame_probability
    where its frame outputs are not probabilities (MGN), else the frame outputs themselves."""
    to_probability = getattr(model, "frame_probability", None)
    return outputs[3] if to_probability is None else to_probability(outputs)


def loss_outputs(model, outputs: tuple) -> tuple:
    """What the losses read (method.losses.Outputs): p, p^a, p^v, the frame outputs as
    probabilities (frame_probabilities), and, where the model returns them (its frame_logits:
    VALOR's), the frame logits, which a loss taken with logits reads as the official code does."""
    to_logits = getattr(model, "frame_logits", None)
    logits = () if to_logits is None else (to_logits(outputs),)
    return (*outputs[:3], frame_probabilities(model, outputs), *logits)


__all__ = ["DEFAULT_FAMILY", "FAMILIES", "Family", "family", "frame_probabilities", "loss_outputs"]
