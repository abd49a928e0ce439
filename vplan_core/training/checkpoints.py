"""Trained parser checkpoints: one file per model (a seed of a row), loadable without unpickling.

The payload is plain data: the state dict, the model's family (vplan_core.models.FAMILIES) and
constructor arguments, the training settings and an `extra` dict of plain Python values, so
torch.load(weights_only=True) reads it and the right model is rebuilt from it. A checkpoint
without a family is the default family's (written before other families existed).
Files are written under a temporary name and renamed: a killed job never leaves half a file.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from vplan_core import atomic
from torch import nn

from vplan_core.models import DEFAULT_FAMILY, family


def save_checkpoint(path: str | Path, model: nn.Module, config, extra: dict) -> None:
    """config: the TrainConfig the model was trained with (stored as a dict)."""
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "family": config.model,
        "model_kwargs": dict(model.init_kwargs),
        "train_config": asdict(config),
        "extra": extra,
    }
    with atomic.replacing(Path(path), ".tmp") as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[nn.Module, dict]:
    """(model in eval mode on device, the whole payload)."""
    payload = torch.load(path, map_location=device, weights_only=True)
    model = family(payload.get("family", DEFAULT_FAMILY)).build(**payload["model_kwargs"])
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval(), payload
