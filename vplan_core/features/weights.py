"""Backbone weights from local files or seeded random initialisation.

Nothing here downloads: these machines reach no model hub. A config value `weights` is either
a path to a state-dict file (published weights fetched elsewhere) or "random:<seed>" (the demo).
Errors name the config key, the path and where the published file lives, so a user can fix the
config without reading code. The label returned for the store's `weights` attr never claims
pretrained weights for a random model.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vplan_core.feature_registry import RANDOM_PREFIX

# numpy objects that published checkpoints (e.g. torchvggish's PCA params) pickle; allowed in
# addition to torch's weights_only set so no arbitrary code runs while loading.
_NUMPY_GLOBALS = {
    "numpy.core.multiarray._reconstruct": np._core.multiarray._reconstruct,
    "numpy._core.multiarray._reconstruct": np._core.multiarray._reconstruct,
    "numpy.core.multiarray.scalar": np._core.multiarray.scalar,
    "numpy._core.multiarray.scalar": np._core.multiarray.scalar,
    "numpy.ndarray": np.ndarray,
    "numpy.dtype": np.dtype,
    **{f"numpy.dtypes.{name}": getattr(np.dtypes, name) for name in dir(np.dtypes)
       if name.endswith("DType") and name != "ObjectDType"},
}


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _where(config_key: str, path: str | os.PathLike, published_at: str) -> str:
    return (f"config key '{config_key}' = {str(path)!r}; the published weights are at "
            f"{published_at} (download them where there is network and set the key to the "
            f"file), or set the key to '{RANDOM_PREFIX}<seed>' for random weights")


def _torch_load(path: Path) -> object:
    """torch.load without arbitrary unpickling; numpy arrays are allowed (see _NUMPY_GLOBALS).

    Works for both torch.save formats: the zip one and the legacy (pre-1.6) one, in which
    files published before 2020 (e.g. torchvggish's) may be.
    """
    with torch.serialization.safe_globals([(obj, name) for name, obj in _NUMPY_GLOBALS.items()]):
        return torch.load(path, map_location="cpu", weights_only=True)


def load_state_dict_file(path: str | os.PathLike, config_key: str, published_at: str
                         ) -> dict[str, torch.Tensor]:
    """Read a state dict (.pth/.pt via torch.load, or .npz); values become tensors.

    A checkpoint wrapping its weights under "state_dict" or "model" is unwrapped.
    FileNotFoundError when the file is absent, ValueError when it cannot be read as a
    mapping of arrays; both messages say which config key to fix and where weights live.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {_where(config_key, path, published_at)}")
    try:
        if path.suffix == ".npz":
            with np.load(path) as npz:
                raw: object = {k: npz[k] for k in npz.files}
        else:
            raw = _torch_load(path)
    except Exception as exc:
        raise ValueError(f"unreadable weights file ({' '.join(str(exc).split())}): "
                         f"{_where(config_key, path, published_at)}") from exc
    for wrapper in ("state_dict", "model"):
        if isinstance(raw, Mapping) and isinstance(raw.get(wrapper), Mapping):
            raw = raw[wrapper]
    if not isinstance(raw, Mapping) or not all(
            isinstance(v, (torch.Tensor, np.ndarray)) for v in raw.values()):
        raise ValueError(f"weights file is not a state dict of tensors: "
                         f"{_where(config_key, path, published_at)}")
    return {str(k): torch.as_tensor(v) for k, v in raw.items()}


def init_random(model: nn.Module, seed: int) -> None:
    """Re-initialise every parameter and buffer from `seed`, independent of global RNG state.

    Each module's own reset_parameters() runs under a private generator fork, so the result
    depends only on the seed and the architecture (same seed, same weights, any process).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in model.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
            reset_stats = getattr(module, "reset_running_stats", None)
            if callable(reset_stats):
                reset_stats()


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], config_key: str,
                     path: str | os.PathLike, limit: int = 5) -> None:
    """ValueError listing the first missing, unexpected and wrongly shaped keys, if any."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = [f"{label} ({len(keys)}): {', '.join(keys[:limit])}"
                for label, keys in (("missing", missing), ("unexpected", unexpected),
                                    ("shape mismatch", shapes)) if keys]
    if problems:
        raise ValueError(f"weights for config key '{config_key}' ({path}) do not fit "
                         f"{type(model).__name__}: " + "; ".join(problems))


def meta_model(build: Callable[[], nn.Module], n_tensors: int) -> nn.Module:
    """build() on the meta device: the model's names and shapes at no cost in memory, to check a
    file's weights against before the model is built for real. Settings that describe a far
    larger model than the file's n_tensors are stopped early (ValueError): building registers at
    most 4 n_tensors + 1000 parameters, buffers and modules. The global RNG is left as it was."""
    budget = [4 * n_tensors + 1000]

    def spend(*_) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise ValueError(f"they describe a model of far more tensors than the {n_tensors} its weights have")

    module_hooks = torch.nn.modules.module
    handles = [module_hooks.register_module_parameter_registration_hook(spend),
               module_hooks.register_module_buffer_registration_hook(spend),
               module_hooks.register_module_module_registration_hook(spend)]
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            return build()
    finally:
        for handle in handles:
            handle.remove()


def apply_weights(model: nn.Module, weights: str, config_key: str, published_at: str
                  ) -> tuple[str, str]:
    """Load `weights` ("random:<seed>" or a state-dict path) into model.

    Returns (label, sha256) for the store attrs: ("random-seed-<n>", "") for random weights,
    (absolute path, file sha256) for a file. Loading is strict: every key and shape must match.
    """
    if weights.startswith(RANDOM_PREFIX):
        seed_text = weights[len(RANDOM_PREFIX):]
        if not seed_text.lstrip("-").isdigit():
            raise ValueError(f"config key '{config_key}': {weights!r} is not "
                             f"'{RANDOM_PREFIX}<integer seed>'")
        init_random(model, int(seed_text))
        return f"random-seed-{int(seed_text)}", ""
    state = load_state_dict_file(weights, config_key, published_at)
    check_state_dict(model, state, config_key, weights)
    model.load_state_dict(state)
    return str(Path(weights).resolve()), sha256_file(weights)
