"""CLIP checkpoint files in the forms they are published, recognised from their bytes.

Forms read (FORMS), whatever the file is called:
  openai-torchscript  OpenAI's releases (ViT-B-32.pt, ViT-L-14.pt, what the `clip` package
                      caches): TorchScript zip archives, read by vplan_core.features.torchscript
                      (no archive code runs); state_dict names are open_clip's, plus
                      input_resolution / context_length / vocab_size, which are dropped. All
                      OpenAI models use QuickGELU, so the archive states the activation.
  open_clip           open_clip / hub state dicts (open_clip_pytorch_model.bin,
                      open_clip_model.safetensors) and training checkpoints {"state_dict": ...},
                      "module."-prefixed from DDP or not; open_clip's own loader reads them.
  hf-transformers     Hugging Face transformers CLIPModel files (pytorch_model.bin,
                      model.safetensors: vision_model.* / text_model.* / *_projection.weight /
                      logit_scale), renamed to open_clip's names exactly: q/k/v projections
                      concatenated into in_proj, projections transposed, position_ids (an index
                      buffer) dropped. A config.json of model_type "clip" beside the file states
                      the activation (HF's default is quick_gelu, as OpenAI's models).
Recognising a file reads only its head, the zip directory and the small pickle that names the
tensors (torch.load with mmap: tensor data is not read), or the safetensors JSON header (the
container readers of checkpoint_files, which CLAP's shares), so check_inputs can run it on 600 MB
files before any job starts. Anything else (another model's state dict, a truncated download, a
text or LFS pointer file, an empty file, the legacy pre-1.6 torch.save format) is a
CheckpointError naming the config key, the file and what it is.
"""

from __future__ import annotations

import functools
import json
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from . import torchscript
from .checkpoint_files import TruncatedSafetensors, describe_bytes, safetensors_layout, torch_zip_state

CONFIG_KEY = "features.clip.checkpoint"
FORMS = {
    "openai-torchscript": "OpenAI's TorchScript release (e.g. ViT-B-32.pt)",
    "open_clip": "an open_clip state dict (open_clip_pytorch_model.bin, "
                 "open_clip_model.safetensors, or a training checkpoint {'state_dict': ...})",
    "hf-transformers": "a Hugging Face transformers CLIPModel file (pytorch_model.bin or "
                       "model.safetensors)",
}
OPENAI_METADATA = ("input_resolution", "context_length", "vocab_size")
_HF_TOWERS = {"vision_model.": "visual.", "text_model.": ""}
_HF_NAMES = (  # transformers CLIP name part -> open_clip name part, inside a tower
    ("embeddings.patch_embedding.", "conv1."),
    ("embeddings.class_embedding", "class_embedding"),
    ("embeddings.position_embedding.weight", "positional_embedding"),
    ("embeddings.token_embedding.", "token_embedding."),
    ("pre_layrnorm.", "ln_pre."),  # sic: transformers' spelling
    ("post_layernorm.", "ln_post."),
    ("final_layer_norm.", "ln_final."),
    ("encoder.layers.", "transformer.resblocks."),
    (".layer_norm1.", ".ln_1."),
    (".layer_norm2.", ".ln_2."),
    (".mlp.fc1.", ".mlp.c_fc."),
    (".mlp.fc2.", ".mlp.c_proj."),
    (".self_attn.out_proj.", ".attn.out_proj."),
)
_HF_PROJECTIONS = {"visual_projection.weight": "visual.proj",
                   "text_projection.weight": "text_projection"}


class CheckpointError(ValueError):
    """A CLIP checkpoint file that vplan cannot use; the message says which key, file and why."""


@dataclass(frozen=True)
class ClipCheckpoint:
    """What a checkpoint file is: its form, container and tensor layout (shapes only)."""

    path: Path
    form: str  # a key of FORMS
    container: str  # "torchscript zip", "torch zip" or "safetensors"
    layout: dict[str, torch.Tensor]  # stored name -> meta tensor (shape and dtype, no data)
    quick_gelu: bool | None  # the activation the checkpoint states; None: it states none


def _error(path: Path, found: str, hint: str = "", key: str = CONFIG_KEY) -> CheckpointError:
    expected = "; ".join(FORMS.values())
    return CheckpointError(f"config key '{key}' = {str(path)!r}: {found}. Expected one of: "
                           f"{expected}" + (f". {hint}" if hint else ""))


def _truncated(path: Path, needed: int, size: int, key: str) -> CheckpointError:
    return _error(path, f"a truncated safetensors file (its header describes {needed} bytes, "
                        f"the file has {size})", "Download it again (an interrupted download?)", key)


def _safetensors_layout(path: Path, size: int, key: str) -> dict[str, torch.Tensor] | None:
    """Tensor layout from a safetensors header, None when the file is not safetensors."""
    try:
        return safetensors_layout(path, size)
    except TruncatedSafetensors as exc:
        raise _truncated(path, exc.needed, exc.size, key) from None


def _state_dict(raw: object) -> dict[str, torch.Tensor] | None:
    """open_clip's unwrapping (factory.load_state_dict): {"state_dict": ...}, "module." keys."""
    if isinstance(raw, Mapping) and "state_dict" in raw:
        raw = raw["state_dict"]
    if not isinstance(raw, Mapping) or not raw:
        return None
    state = {str(k): v for k, v in raw.items() if isinstance(v, torch.Tensor)}
    if str(next(iter(raw))).startswith("module"):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _torch_zip_layout(path: Path, key: str) -> dict[str, torch.Tensor]:
    error = functools.partial(_error, key=key)
    return {k: torch.empty_like(v, device="meta") for k, v in torch_zip_state(path, error, _state_dict).items()}


def _examples(names: list[str], n: int = 4) -> str:
    return f"{len(names)} tensors, e.g. {', '.join(names[:n])}"


def _form(path: Path, container: str, layout: dict[str, torch.Tensor], key: str) -> str:
    names = list(layout)
    clip_like = (any(n.startswith("visual.") for n in names)
                 and any(n == "token_embedding.weight" or n.startswith("text.") for n in names))
    if container == "torchscript zip":
        if clip_like and "positional_embedding" in layout:
            return "openai-torchscript"
        raise _error(path, f"a TorchScript archive that is no CLIP ({_examples(names)})", key=key)
    if any(n.startswith(tuple(_HF_TOWERS)) for n in names):
        return "hf-transformers"
    if clip_like:
        return "open_clip"
    raise _error(path, f"a {container} state dict that is no CLIP checkpoint "
                       f"({_examples(names)})", key=key)


def _hf_quick_gelu(path: Path, key: str) -> bool | None:
    """The activation a transformers config.json beside the file states (None: no such file)."""
    config_path = path.parent / "config.json"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or config.get("model_type") != "clip":
        return None
    acts = {tower: (config.get(f"{tower}_config") or {}).get("hidden_act", "quick_gelu")
            for tower in ("text", "vision")}
    if set(acts.values()) not in ({"quick_gelu"}, {"gelu"}):
        raise _error(path, f"a transformers CLIP whose {config_path} states activations {acts}",
                     "open_clip builds both towers with one activation, gelu or quick_gelu", key)
    return acts["text"] == "quick_gelu"


def _zip_layout(path: Path, key: str) -> tuple[str, dict[str, torch.Tensor]]:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        if torchscript.archive_prefix(names) is None:
            raise _error(path, f"a zip archive without torch records (entries: "
                               f"{', '.join(names[:4])})", key=key)
        if torchscript.is_torchscript(names):
            try:
                return "torchscript zip", torchscript.read_tensors(zf, with_data=False)
            except pickle.UnpicklingError as exc:
                raise _error(path, f"a TorchScript archive vplan cannot read safely ({exc})", key=key)
            except Exception as exc:
                raise _error(path, f"an unreadable TorchScript archive ({exc})", key=key) from exc
    return "torch zip", _torch_zip_layout(path, key)


def inspect_checkpoint(path: str | Path, key: str = CONFIG_KEY) -> ClipCheckpoint:
    """Recognise the file's form without reading its tensor data; CheckpointError (naming config
    key `key`, the setting that names the file) if none."""
    path = Path(path)
    if not path.is_file():
        raise _error(path, "no such file", key=key)
    size = path.stat().st_size
    if zipfile.is_zipfile(path):
        container, layout = _zip_layout(path, key)
    else:
        container, layout = "safetensors", _safetensors_layout(path, size, key)
        if layout is None:
            with open(path, "rb") as fh:
                raise _error(path, *describe_bytes(path, fh.read(64), size), key=key)
    form = _form(path, container, layout, key)
    if form == "open_clip" and (container == "safetensors") != (path.suffix == ".safetensors"):
        raise _error(path, f"an open_clip state dict in {container} format named *{path.suffix}",
                     "open_clip picks its reader by the file name: name safetensors files "
                     "*.safetensors and torch.save files anything else", key)
    quick_gelu = {"openai-torchscript": True, "open_clip": None,
                  "hf-transformers": _hf_quick_gelu(path, key)}[form]
    return ClipCheckpoint(path, form, container, layout, quick_gelu)


def hf_to_open_clip(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers CLIPModel names -> open_clip CLIP names; unknown keys pass through as they
    are, so that strict loading names them."""
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key.endswith("embeddings.position_ids"):
            continue
        if key in _HF_PROJECTIONS:  # nn.Linear [out, in] -> open_clip's x @ proj [in, out]
            out[_HF_PROJECTIONS[key]] = value.T
            continue
        tower = next((t for t in _HF_TOWERS if key.startswith(t)), None)
        if tower is None:
            out[key] = value
            continue
        name = _HF_TOWERS[tower] + key[len(tower):]
        for old, new in _HF_NAMES:
            name = name.replace(old, new)
        match = re.fullmatch(r"(.+)\.self_attn\.([qkv])_proj\.(weight|bias)", name)
        if match:
            qkv.setdefault((match[1], match[3]), {})[match[2]] = value
        else:
            out[name] = value
    for (block, kind), parts in qkv.items():
        if set(parts) == {"q", "k", "v"}:
            out[f"{block}.attn.in_proj_{kind}"] = torch.cat([parts[p] for p in "qkv"])
        else:
            out.update({f"{block}.self_attn.{p}_proj.{kind}": v for p, v in parts.items()})
    return out


def to_open_clip_names(checkpoint: ClipCheckpoint, tensors: Mapping[str, torch.Tensor]
                       ) -> dict[str, torch.Tensor]:
    """The state dict under open_clip's names (for the forms vplan maps itself)."""
    if checkpoint.form == "hf-transformers":
        return hf_to_open_clip(tensors)
    return {k: v for k, v in tensors.items() if k not in OPENAI_METADATA}


def read_tensors(checkpoint: ClipCheckpoint) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors with their data, as stored (no arbitrary unpickling)."""
    if checkpoint.container == "torchscript zip":
        with zipfile.ZipFile(checkpoint.path) as zf:
            return torchscript.read_tensors(zf)
    if checkpoint.container == "safetensors":
        from safetensors.torch import load_file
        return _state_dict(load_file(checkpoint.path)) or {}
    return _state_dict(torch.load(checkpoint.path, map_location="cpu", weights_only=True)) or {}
