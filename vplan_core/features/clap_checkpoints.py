"""CLAP checkpoint files in the forms they are published, recognised from their content, and
LAION-CLAP's names mapped onto transformers' ClapModel. Loading (features.clap) builds the model
and checks the fit; this module says what a file is, without reading tensor data, so the
workflow's input checks can run it before any job.

Checkpoint forms (FORMS), recognised from their content:
  laion-clap       LAION-CLAP's releases as published (630k-best.pt, 630k-audioset-best.pt,
                   630k-fusion-best.pt, 630k-audioset-fusion-best.pt): torch.save zip files
                   {"state_dict": {"module.audio_branch....": ...}, ...}. Their names are mapped
                   onto ClapModel's (laion_to_hf, after transformers'
                   convert_clap_original_pytorch_to_hf.py, but strict: every model tensor must
                   come from the file and every file tensor is either used or one of the known
                   parts ClapModel does not have, DROPPED_LAION). The architecture is LAION's
                   HTSAT-tiny + roberta-base (laion_config) unless `features.clap.config` names a
                   transformers config.json; the tokenizer (roberta-base's files, e.g. those of
                   the laion/clap-htsat-fused folder) comes from `features.clap.tokenizer`.
  hf-transformers  a transformers ClapModel folder (laion/clap-htsat-fused, laion/clap-htsat-
                   unfused, or what the demo trains): config.json (model_type "clap"),
                   model.safetensors or pytorch_model.bin, and the tokenizer files. The config
                   key may name the folder or the weights file in it.
Fused or not: VALOR uses 630k-fusion-best.pt (laion_clap's model_id=2). Whether a file is fused
is read from its tensors (patch_embed.mel_conv2d / fusion_model exist only in fused HTSATs); it
must agree (check_fusion) with `features.clap.fusion`, which decides the input (4 stacked mels
or 1). The containers (torch zip, safetensors header, what other bytes are) are read by
checkpoint_files, as CLIP's are.
"""
from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from vplan_core.features.checkpoint_files import (TruncatedSafetensors, describe_bytes, safetensors_layout,
                                                  torch_zip_state)
from vplan_core.features.clap_audio import MEL_BINS

CONFIG_KEY = "features.clap.checkpoint"
FUSION_KEY = "features.clap.fusion"
ARCH_KEY = "features.clap.config"
TOKENIZER_KEY = "features.clap.tokenizer"

FORMS = {
    "laion-clap": "a LAION-CLAP checkpoint as published (e.g. 630k-fusion-best.pt: a torch.save "
                  "file {'state_dict': {'module.audio_branch...', 'module.text_branch...'}})",
    "hf-transformers": "a transformers ClapModel folder (config.json of model_type 'clap', "
                       "model.safetensors or pytorch_model.bin, tokenizer files), or its weights file",
}
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")

# LAION tensors that ClapModel has no place for: the in-model STFT and mel filters (the feature
# extractor computes the mel instead), HTSAT's AudioSet head (tscam_conv, head), the training-
# only MLPs of the contrastive loss, and Swin's attention masks (ClapModel recomputes them).
DROPPED_LAION = (r"audio_branch\.spectrogram_extractor\.", r"audio_branch\.logmel_extractor\.",
                 r"audio_branch\.tscam_conv\.", r"audio_branch\.head\.", r"audio_transform\.",
                 r"text_transform\.", r"audio_branch\.layers\.\d+\.blocks\.\d+\.attn_mask$")
_LAION_AUDIO_NAMES = (  # inside a Swin block of the audio tower: LAION part -> ClapModel part
    (".norm1.", ".layernorm_before."),
    (".norm2.", ".layernorm_after."),
    (".mlp.fc1.", ".intermediate.dense."),
    (".mlp.fc2.", ".output.dense."),
    (".attn.proj.", ".attention.output.dense."),
    (".attn.relative_position", ".attention.self.relative_position"),
)
_LAION_PROJECTIONS = {"0": "linear1", "2": "linear2"}  # nn.Sequential(Linear, ReLU, Linear)


class CheckpointError(ValueError):
    """A CLAP checkpoint that vplan cannot use; the message names the config key, file and why."""


# ---------------------------------------------------------------- checkpoint recognition
def _error(path, found: str, hint: str = "", key: str = CONFIG_KEY) -> CheckpointError:
    expected = "; ".join(FORMS.values())
    return CheckpointError(f"config key '{key}' = {str(path)!r}: {found}. Expected one of: "
                           f"{expected}" + (f". {hint}" if hint else ""))


def _unwrap(raw: object) -> dict[str, torch.Tensor] | None:
    if isinstance(raw, Mapping) and isinstance(raw.get("state_dict"), Mapping):
        raw = raw["state_dict"]
    if not isinstance(raw, Mapping) or not raw:
        return None
    state = {str(k): v for k, v in raw.items() if isinstance(v, torch.Tensor)}
    if all(k.startswith("module.") for k in state):  # saved from DistributedDataParallel
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _safetensors_layout(path: Path, size: int) -> dict[str, torch.Tensor] | None:
    try:
        return safetensors_layout(path, size)
    except TruncatedSafetensors as exc:
        raise _error(path, f"a truncated safetensors file (its {exc.part} "
                           f"{'needs' if exc.part == 'header' else 'need'} {exc.needed} bytes, "
                           f"the file has {exc.size})", "Download it again") from None


def _read(path: Path, with_data: bool) -> tuple[str, dict[str, torch.Tensor]]:
    """(container, tensors) of a weights file: meta tensors unless with_data."""
    size = path.stat().st_size
    if zipfile.is_zipfile(path):
        state = torch_zip_state(path, _error, _unwrap)
        container = "torch zip"
    else:
        layout = _safetensors_layout(path, size)
        if layout is None:
            with open(path, "rb") as fh:
                raise _error(path, *describe_bytes(path, fh.read(64), size))
        container = "safetensors"
        if with_data:
            from safetensors.torch import load_file
            state = load_file(path)
        else:
            state = layout
    if not with_data:
        state = {k: torch.empty_like(v, device="meta") for k, v in state.items()}
    return container, state


def _hf_config(folder: Path, path: Path) -> dict:
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text())
    except OSError:
        raise _error(path, f"no config.json in {folder} (a transformers ClapModel folder has one)")
    except ValueError as exc:
        raise _error(path, f"{config_path} is no JSON ({exc})") from exc
    if not isinstance(config, dict) or config.get("model_type") != "clap":
        kind = config.get("model_type") if isinstance(config, dict) else type(config).__name__
        hint = ("That is an image CLIP: it belongs to 'features.clip.checkpoint'"
                if kind == "clip" else "")
        raise _error(path, f"{config_path} describes a model of type {kind!r}, not 'clap'", hint)
    return config


@dataclass(frozen=True)
class ClapCheckpoint:
    """What a checkpoint is: form, container, weights file, tensor layout (shapes only), fusion."""

    path: Path  # what the config key names
    form: str  # a key of FORMS
    container: str  # "torch zip" or "safetensors"
    weights: Path  # the file holding the tensors
    layout: dict[str, torch.Tensor]
    fused: bool
    hf_config: dict | None  # config.json of the hf-transformers form


def _fused(names) -> bool:
    return any(".patch_embed.mel_conv2d." in n or ".patch_embed.fusion_model." in n for n in names)


def _describe_layout(path: Path, names: list[str]) -> str:
    if any(n.startswith(("visual.", "vision_model.")) for n in names):
        return ("an image CLIP checkpoint (visual tower tensors such as "
                f"{next(n for n in names if n.startswith(('visual.', 'vision_model.')))}), not CLAP; "
                "it belongs to 'features.clip.checkpoint'")
    return f"a state dict that is no CLAP checkpoint ({len(names)} tensors, e.g. {', '.join(names[:4])})"


def inspect_checkpoint(path: str | Path) -> ClapCheckpoint:
    """Recognise a CLAP checkpoint's form without reading its tensor data; CheckpointError if none."""
    path = Path(path)
    if path.is_dir():
        folder = path
        weights = next((folder / w for w in HF_WEIGHTS if (folder / w).is_file()), None)
        config = _hf_config(folder, path)
        if weights is None:
            raise _error(path, f"a transformers folder without weights (no {' or '.join(HF_WEIGHTS)})")
    elif path.is_file():
        folder, weights, config = path.parent, path, None
    else:
        raise _error(path, "no such file or folder")
    container, layout = _read(weights, with_data=False)
    names = list(layout)
    if any(n.startswith("audio_branch.") for n in names) and any(n.startswith("text_branch.") for n in names):
        if config is not None:
            raise _error(path, "a folder whose weights are in LAION's form, not ClapModel's",
                         "Point the key at the .pt file itself")
        return ClapCheckpoint(path, "laion-clap", container, weights, layout, _fused(names), None)
    if any(n.startswith("audio_model.audio_encoder.") for n in names):
        if config is None:
            config = _hf_config(folder, path)
        return ClapCheckpoint(path, "hf-transformers", container, weights, layout, _fused(names), config)
    raise _error(path, _describe_layout(path, names))


def read_tensors(checkpoint: ClapCheckpoint) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors with their data, as stored (no arbitrary unpickling)."""
    return _read(checkpoint.weights, with_data=True)[1]


# ---------------------------------------------------------------- LAION <-> transformers names
def laion_to_hf(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """LAION-CLAP names ("module." already stripped) -> ClapModel names. DROPPED_LAION tensors
    are left out; unknown names pass through unchanged, so that a strict check names them."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if any(re.match(p, key) for p in DROPPED_LAION):
            continue
        name = key
        if name.startswith("text_branch."):
            name = "text_model." + name[len("text_branch."):]
        elif name.startswith("audio_branch."):
            rest = name[len("audio_branch."):]
            if rest.startswith("bn0."):
                rest = "batch_norm." + rest[len("bn0."):]
            elif rest.startswith("layers."):
                match = re.fullmatch(r"(.+)\.attn\.qkv\.(weight|bias)", rest)
                if match:  # one [3 d, ...] tensor -> query, key, value
                    for part, chunk in zip(("query", "key", "value"), value.chunk(3, dim=0)):
                        out[f"audio_model.audio_encoder.{match[1]}.attention.self.{part}.{match[2]}"] = chunk
                    continue
                for old, new in _LAION_AUDIO_NAMES:
                    rest = rest.replace(old, new)
            name = "audio_model.audio_encoder." + rest
        else:
            match = re.fullmatch(r"(audio|text)_projection\.(\d+)\.(weight|bias)", name)
            if match and match[2] in _LAION_PROJECTIONS:
                name = f"{match[1]}_projection.{_LAION_PROJECTIONS[match[2]]}.{match[3]}"
        out[name] = value
    return out


def hf_to_laion(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """ClapModel names -> LAION-CLAP names: the inverse of laion_to_hf on the tensors it keeps."""
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    projections = {v: k for k, v in _LAION_PROJECTIONS.items()}
    for key, value in state.items():
        name = key
        if name.startswith("text_model."):
            name = "text_branch." + name[len("text_model."):]
        elif name.startswith("audio_model.audio_encoder."):
            rest = name[len("audio_model.audio_encoder."):]
            if rest.startswith("batch_norm."):
                rest = "bn0." + rest[len("batch_norm."):]
            elif rest.startswith("layers."):
                match = re.fullmatch(r"(.+)\.attention\.self\.(query|key|value)\.(weight|bias)", rest)
                if match:
                    qkv.setdefault((match[1], match[3]), {})[match[2]] = value
                    continue
                for old, new in _LAION_AUDIO_NAMES:
                    rest = rest.replace(new, old)
            name = "audio_branch." + rest
        else:
            match = re.fullmatch(r"(audio|text)_projection\.(linear[12])\.(weight|bias)", name)
            if match:
                name = f"{match[1]}_projection.{projections[match[2]]}.{match[3]}"
        out[name] = value
    for (block, kind), parts in qkv.items():
        out[f"audio_branch.{block}.attn.qkv.{kind}"] = torch.cat([parts[p] for p in ("query", "key", "value")])
    return out


def laion_config(fusion: bool) -> dict:
    """ClapConfig (as a dict) of LAION's released 630k models: HTSAT-tiny audio tower (LAION's
    HTSAT-tiny.json + htsat.create_htsat_model) and roberta-base's text tower, exactly as
    laion_clap builds it (roberta-base's layer_norm_eps 1e-5, not ClapTextConfig's default)."""
    return {
        "projection_dim": 512, "logit_scale_init_value": 1 / 0.07,
        "text_config": {"vocab_size": 50265, "hidden_size": 768, "num_hidden_layers": 12,
                        "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu",
                        "max_position_embeddings": 514, "type_vocab_size": 1,
                        "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0,
                        "eos_token_id": 2, "projection_dim": 512, "projection_hidden_act": "relu"},
        "audio_config": {"spec_size": 256, "patch_size": 4, "patch_stride": [4, 4],
                         "patch_embeds_hidden_size": 96, "depths": [2, 2, 6, 2],
                         "num_attention_heads": [4, 8, 16, 32], "window_size": 8,
                         "hidden_size": 768, "num_mel_bins": MEL_BINS, "num_classes": 527,
                         "enable_fusion": bool(fusion), "fusion_type": "aff_2d" if fusion else None,
                         "projection_dim": 512, "projection_hidden_act": "relu",
                         "layer_norm_eps": 1e-5, "mlp_ratio": 4.0, "qkv_bias": True,
                         "hidden_act": "gelu", "aff_block_r": 4},
    }


# ---------------------------------------------------------------- fusion and names for ClapModel
def check_fusion(checkpoint: ClapCheckpoint, config, fusion: bool | None,
                 config_file: str | None) -> None:
    """The configured fusion, the architecture's (config, a ClapConfig) and the weights' must agree."""
    kind = "a fused" if checkpoint.fused else "a non-fused"
    if fusion is not None and bool(fusion) != checkpoint.fused:
        other = ("the non-fused one (e.g. 630k-best.pt)" if checkpoint.fused
                 else "a fused one (e.g. 630k-fusion-best.pt, which VALOR uses)")
        raise CheckpointError(
            f"config key '{FUSION_KEY}' = {bool(fusion)}, but config key '{CONFIG_KEY}' = "
            f"{str(checkpoint.path)!r} is {kind} CLAP (its HTSAT "
            f"{'has' if checkpoint.fused else 'has no'} fusion layers patch_embed.mel_conv2d and "
            f"patch_embed.fusion_model). Set '{FUSION_KEY}: {checkpoint.fused}' or use {other}")
    stated = bool(config.audio_config.enable_fusion)
    if stated != checkpoint.fused:
        source = ("its config.json" if checkpoint.hf_config is not None
                  else f"config key '{ARCH_KEY}' = {str(config_file)!r}")
        raise _error(checkpoint.path, f"{kind} CLAP, but {source} says enable_fusion={stated}")


def to_hf_names(checkpoint: ClapCheckpoint, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict under ClapModel's names (a LAION file's mapped, a transformers file's as is)."""
    return laion_to_hf(tensors) if checkpoint.form == "laion-clap" else dict(tensors)
