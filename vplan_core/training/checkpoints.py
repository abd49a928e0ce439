"""Trained parser checkpoints: one file per model (a seed of a row), loadable without unpickling.

The payload is plain data: the state dict, the model's family (vplan_core.models.FAMILIES) and
constructor arguments, the training settings and an `extra` dict of plain Python values, so
torch.load(weights_only=True) reads it and the right model is rebuilt from it. A checkpoint
without a family is the default family's (written before other families existed), and one
without the features it read (train_config.inputs) read the HAN features.
Files are written under a temporary name and renamed: a killed job never leaves half a file.
Loading checks the file before trusting it: anything that is not such a payload (another
model's file, a truncated copy, text) is a CheckpointError naming the file and what is wrong;
so are non-finite weights (the tensor named) and model_kwargs that do not fit the weights,
found on the meta device before the model takes any memory (a 1.5 KB file cannot ask for GBs).
"""
from __future__ import annotations

import zipfile
from dataclasses import asdict
from pathlib import Path

import torch

from vplan_core import atomic
from torch import nn

from vplan_core.feature_registry import DEFAULT_INPUTS
from vplan_core.features.checkpoint_files import describe_bytes, torch_zip_state
from vplan_core.features.weights import meta_model
from vplan_core.models import DEFAULT_FAMILY, family

PAYLOAD_KEYS = ("state_dict", "model_kwargs")  # what a model is rebuilt from


class CheckpointError(ValueError):
    """A --checkpoint that no parser loads from; a user's input, not a bug."""


def _not_vplan(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"{path}: not a vplan model checkpoint ({what})")


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


def _read_payload(path: Path) -> dict:
    """The torch.save dict in `path`, read with weights_only=True; CheckpointError otherwise."""
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path}: no such file")
    if not zipfile.is_zipfile(path):  # torch.save writes zip archives
        with open(path, "rb") as fh:
            raise _not_vplan(path, describe_bytes(path, fh.read(64), path.stat().st_size)[0])
    return torch_zip_state(path, _not_vplan, lambda raw: raw if isinstance(raw, dict) else None)


def _finite_weights(path: Path, state: object) -> dict[str, torch.Tensor]:
    """The state dict, once every tensor of it is finite; CheckpointError naming the first that
    is not (a diverged or damaged model would parse every video as nothing)."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _not_vplan(path, "its state_dict is not a dict of tensors")
    for key, value in state.items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            bad = int((~torch.isfinite(value)).sum())
            raise CheckpointError(f"{path}: non-finite weights: {key} has {bad} NaN/inf values "
                                  "(a diverged or damaged model)")
    return state


def _load(path: Path, spec, model: nn.Module, state: dict[str, torch.Tensor], assign: bool = False) -> None:
    """load_state_dict, its errors named; assign: a meta model takes the tensors as they are
    (its shapes checked all the same) instead of copying them into meta tensors (a no-op)."""
    try:
        model.load_state_dict(state, assign=assign)
    except RuntimeError as exc:
        # torch lists one problem a line under a heading: the first says what is wrong
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = lines[min(1, len(lines) - 1)] + (f" (and {len(lines) - 2} more)" if len(lines) > 2 else "")
        raise CheckpointError(f"{path}: its {spec.title} weights do not fit the model its "
                              f"model_kwargs describe ({detail})") from exc


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[nn.Module, dict]:
    """(model in eval mode on device, the whole payload). FileNotFoundError; CheckpointError when
    the file is no vplan payload, its weights are not all finite, or its model_kwargs and weights
    do not rebuild the model (checked on the meta device before any memory is spent on it);
    ValueError for an unknown family. Each names the file."""
    path = Path(path)
    payload = _read_payload(path)
    missing = [key for key in PAYLOAD_KEYS if key not in payload]
    if missing:
        keys = ", ".join(str(key) for key in list(payload)[:5]) + (", ..." if len(payload) > 5 else "")
        raise _not_vplan(path, f"no {' or '.join(missing)}; its keys: {keys or 'none'}")
    try:
        spec = family(payload.get("family", DEFAULT_FAMILY))
    except ValueError as exc:
        raise ValueError(f"checkpoint {path}: {exc}") from exc
    state = _finite_weights(path, payload["state_dict"])
    try:  # on the meta device first: kwargs that do not fit the weights cost no memory
        shapes = meta_model(lambda: spec.build(**payload["model_kwargs"]), len(state))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: its model_kwargs do not build a {spec.title} ({exc})") from exc
    _load(path, spec, shapes, state, assign=True)
    model = spec.build(**payload["model_kwargs"])
    _load(path, spec, model, state)
    return model.to(device).eval(), payload


def checkpoint_inputs(payload: dict) -> dict[str, str]:
    """The feature each input of the checkpoint's model is (audio, visual_2d, visual_3d -> a
    registry feature): what it was trained on."""
    return dict(payload.get("train_config", {}).get("inputs") or DEFAULT_INPUTS)
