"""CLAP audio and text embeddings for audio PLG, through transformers' ClapModel.

Audio PLG (VALOR, Lai et al. NeurIPS 2023; the VPLAN journal version) labels each one-second
segment with the classes whose CLAP text embedding the segment's audio embedding matches. This
module is its library part: VALOR's window arithmetic, loading a CLAP checkpoint in each form it
is published in, encoding windows and prompts, and reading released CLAP features.

Dependency: transformers (pinned in requirements.txt), not laion_clap. laion-clap 1.1.7, the
reference package, cannot serve an offline, pinned pipeline: it requires numpy<2 (the project
pins numpy 2.4.6), pulls in wandb, webdataset, librosa/numba and more, and builds its text tower
with RobertaModel.from_pretrained('roberta-base') (importing it even runs
BertTokenizer.from_pretrained at module level), so it cannot construct a model without the
model hub. transformers' ClapModel is the same network (HTSAT-tiny audio tower, RoBERTa text
tower, two-layer projections; transformers' conversion script maps LAION's weights onto it),
builds from a config alone, loads local files only, and its tokenizers load from local files.

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
must agree with `features.clap.fusion`, which decides the input (4 stacked mels or 1).

Preprocessing (encode_audio_windows) is what laion_clap's CLAP_Module.get_audio_embedding_from
_data does to VALOR's windows: int16 quantisation, "repeatpad" to 10 s (480,000 samples at
48 kHz), then a log-mel spectrogram (1024-point Hann STFT, hop 480, 64 mel bins, 50-14,000 Hz,
10 log10(max(power, 1e-10)) dB). Fused models: torchaudio's HTK mel filters without
normalisation, 4 copies stacked (every window is shorter than 10 s, so it is never "longer" and
the fusion branch is not used); unfused models: librosa's Slaney filters, which laion_clap's
in-model torchlibrosa front end uses. log_mel computes this in torch for a batch of windows;
tests/test_clap.py checks it against transformers' ClapFeatureExtractor. That extractor is not
used itself: it is numpy float64 (about 25 ms a window), and with truncation="fusion" it marks
one clip of every batch without a long clip as "longer" at random (laion_clap's training-time
behaviour), which would send that window through the fusion branch; laion_clap at inference,
and so VALOR, never does.

transformers is imported where a model, config or tokenizer is needed, not with the module: it
costs seconds, and workflow input checks may import this module on every run.
"""
from __future__ import annotations

import functools
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vplan_core.features.clip_checkpoints import _SAFETENSORS_DTYPES, _describe_bytes, torch_zip_state
from vplan_core.feature_registry import CLAP_PUBLISHED_AT, RANDOM_PREFIX
from vplan_core.features.weights import check_state_dict

CONFIG_KEY = "features.clap.checkpoint"
FUSION_KEY = "features.clap.fusion"
ARCH_KEY = "features.clap.config"
TOKENIZER_KEY = "features.clap.tokenizer"

AUDIO_RATE = 48000
SEGMENTS = 10
CLIP_SAMPLES = 480000  # LAION's max_len: 10 s at 48 kHz; each window is repeat-padded to it
N_FFT, HOP, MEL_BINS, F_MIN, F_MAX = 1024, 480, 64, 50.0, 14000.0  # LAION's audio_cfg
AMIN_DB = 1e-10
TEXT_MAX_LENGTH = 77  # laion_clap's tokenize: padding="max_length", max_length=77

FORMS = {
    "laion-clap": "a LAION-CLAP checkpoint as published (e.g. 630k-fusion-best.pt: a torch.save "
                  "file {'state_dict': {'module.audio_branch...', 'module.text_branch...'}})",
    "hf-transformers": "a transformers ClapModel folder (config.json of model_type 'clap', "
                       "model.safetensors or pytorch_model.bin, tokenizer files), or its weights file",
}
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))  # either set loads

# LAION tensors that ClapModel has no place for: the in-model STFT and mel filters (the feature
# extractor computes the mel instead), HTSAT's AudioSet head (tscam_conv, head), the training-
# only MLPs of the contrastive loss, and Swin's attention masks (ClapModel recomputes them).
DROPPED_LAION = (r"audio_branch\.spectrogram_extractor\.", r"audio_branch\.logmel_extractor\.",
                 r"audio_branch\.tscam_conv\.", r"audio_branch\.head\.", r"audio_transform\.",
                 r"text_transform\.", r"audio_branch\.layers\.\d+\.blocks\.\d+\.attn_mask$")
# Buffers a model derives from its config: a file may lack them (newer torch/transformers save
# fewer buffers); when a file has one it must match.
DERIVED_BUFFERS = ("position_ids", "token_type_ids", "relative_position_index", "num_batches_tracked")
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


# ---------------------------------------------------------------- windows (VALOR's arithmetic)
def window_bounds(n_samples: int) -> list[tuple[int, int]]:
    """VALOR's ten windows of a waveform of n_samples (utils/clap_preprocess.py):
    starts np.round(np.linspace(0, N, 11))[:10], each N // 10 samples long.

    For a 10-s clip at 48 kHz these are the ten seconds exactly; for other lengths the windows
    stay equal in length and cover the clip (the last one ends at N or just before it).
    """
    n = int(n_samples)
    if n < SEGMENTS:
        raise ValueError(f"a waveform of {n} samples has no {SEGMENTS} windows")
    starts = np.round(np.linspace(0, n, SEGMENTS + 1)).astype(np.int64)[:SEGMENTS]
    step = n // SEGMENTS
    return [(int(s), int(s) + step) for s in starts]


def audio_windows(waveform: np.ndarray) -> np.ndarray:
    """Mono waveform [N] at AUDIO_RATE -> float32 [10, N // 10], VALOR's windows."""
    wave = np.asarray(waveform, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"audio_windows takes a mono waveform [N], got shape {wave.shape}")
    return np.stack([wave[a:b] for a, b in window_bounds(len(wave))])


# ---------------------------------------------------------------- preprocessing
def quantise(waves: torch.Tensor) -> torch.Tensor:
    """laion_clap's int16_to_float32(float32_to_int16(x)): clip to [-1, 1], truncate to int16."""
    return (waves.clamp(-1.0, 1.0) * 32767.0).to(torch.int16).to(torch.float32) / 32767.0


def repeat_pad(waves: torch.Tensor, length: int = CLIP_SAMPLES) -> torch.Tensor:
    """LAION's "repeatpad": [B, L] -> [B, length], int(length / L) copies, then zeros."""
    n = waves.shape[-1]
    if n > length:
        raise ValueError(f"windows of {n} samples are longer than CLAP's {length}-sample input")
    tiled = waves.repeat(1, length // n)
    return F.pad(tiled, (0, length - tiled.shape[-1]))


_FILTERS: dict[bool, torch.Tensor] = {}


def mel_filters(fusion: bool) -> torch.Tensor:
    """float32 [N_FFT // 2 + 1, 64]: HTK without norm (fused; torchaudio's) or Slaney (unfused;
    librosa's), as transformers' ClapFeatureExtractor builds them."""
    if fusion not in _FILTERS:
        from transformers.audio_utils import mel_filter_bank

        _FILTERS[fusion] = torch.from_numpy(mel_filter_bank(
            num_frequency_bins=N_FFT // 2 + 1, num_mel_filters=MEL_BINS, min_frequency=F_MIN,
            max_frequency=F_MAX, sampling_rate=AUDIO_RATE, norm=None if fusion else "slaney",
            mel_scale="htk" if fusion else "slaney")).float()
    return _FILTERS[fusion]


def _power_mel(waves: torch.Tensor, fusion: bool) -> torch.Tensor:
    """[B, S] -> mel power [B, S // HOP + 1, 64] (centred, reflect-padded Hann STFT)."""
    spec = torch.stft(waves, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT,
                      window=torch.hann_window(N_FFT, periodic=True, device=waves.device),
                      center=True, pad_mode="reflect", return_complex=True).abs().pow(2)
    return spec.transpose(1, 2) @ mel_filters(fusion).to(waves.device)


def log_mel(waves: torch.Tensor, fusion: bool, period: int | None = None) -> torch.Tensor:
    """[B, CLIP_SAMPLES] -> float32 [B, 1001, 64] log-mel (dB), LAION's audio front end.

    period (in samples, a multiple of HOP that divides the length) says that the waveform
    repeats with that period, as a repeat-padded window of a 10-s clip does; then only the
    frames of one period and the edge frames (where the reflect padding is) are computed and
    the rest are copies, which is the same spectrogram at a hundredth of the cost.
    """
    n = waves.shape[-1]
    if period is None or period % HOP or n % period or n < 2 * period + 2 * N_FFT:
        power = _power_mel(waves, fusion)
    else:
        frames_per_period, half = period // HOP, N_FFT // 2
        first = -(-half // HOP)  # frames before it touch the left reflect padding
        last = (n - half) // HOP  # frames after it touch the right one
        head = _power_mel(waves[:, :(first + frames_per_period) * HOP + half], fusion)
        # the frames after `last`, from a frame-aligned tail in which they are past its own edge
        tail = _power_mel(waves[:, (last + 1 - first) * HOP:], fusion)[:, first:]
        k = torch.arange(first, last + 1, device=waves.device)
        middle = head[:, first + (k - first) % frames_per_period]
        power = torch.cat([head[:, :first], middle, tail], dim=1)
    return 10.0 * torch.log10(power.clamp_min(AMIN_DB))


def model_input(windows: torch.Tensor, fusion: bool) -> dict[str, torch.Tensor]:
    """float windows [B, L] -> ClapModel.get_audio_features kwargs (VALOR's preprocessing)."""
    length = windows.shape[-1]
    period = length if CLIP_SAMPLES % length == 0 else None  # repeatpad adds no zeros
    mel = log_mel(repeat_pad(quantise(windows)), fusion, period)[:, None]
    return {"input_features": mel.expand(-1, 4, -1, -1) if fusion else mel,
            "is_longer": torch.zeros(len(windows), 1, dtype=torch.bool, device=windows.device)}


def is_fused(model) -> bool:
    return bool(model.config.audio_config.enable_fusion)


@torch.no_grad()
def encode_audio_windows(model, windows, batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """Windows [n, 10, L] (array, or a list of [10, L_i] arrays) -> float32 [n, 10, D],
    L2-normalised CLAP audio embeddings, one per window."""
    videos = [np.asarray(w, dtype=np.float32) for w in windows]
    if not videos:
        raise ValueError("encode_audio_windows got no windows")
    for v in videos:
        if v.ndim != 2 or v.shape[0] != SEGMENTS:
            raise ValueError(f"each video's windows must be [{SEGMENTS}, L], got {v.shape}")
    flat = [row for v in videos for row in v]
    out = []
    start = 0
    while start < len(flat):
        length = len(flat[start])  # a batch holds windows of one length
        stop = start
        while stop < len(flat) and stop - start < batch_size and len(flat[stop]) == length:
            stop += 1
        out.append(encode_windows(model, np.stack(flat[start:stop]), device))
        start = stop
    return np.concatenate(out).reshape(len(videos), SEGMENTS, -1)


@torch.no_grad()
def encode_windows(model, windows: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Windows of one length [n, L] -> float32 [n, D], L2-normalised CLAP audio embeddings."""
    batch = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)).to(device)
    emb = model.get_audio_features(**model_input(batch, is_fused(model))).pooler_output
    return F.normalize(emb.float(), dim=-1).cpu().numpy()


@torch.no_grad()
def encode_texts(model, tokenizer, texts: Sequence[str], device: str = "cpu") -> np.ndarray:
    """Prompts -> float32 [C, D], L2-normalised (tokenised as laion_clap does: padded to 77)."""
    tokens = tokenizer(list(texts), padding="max_length", truncation=True,
                       max_length=TEXT_MAX_LENGTH, return_tensors="pt")
    emb = model.get_text_features(input_ids=tokens["input_ids"].to(device),
                                  attention_mask=tokens["attention_mask"].to(device)).pooler_output
    return F.normalize(emb.float(), dim=-1).cpu().numpy()


def logit_scale(model) -> float:
    """CLAP's audio-text logit scale exp(logit_scale_a), which VALOR's thresholds assume."""
    return float(model.logit_scale_a.detach().exp())


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


def _safetensors_header(path: Path, size: int) -> dict[str, torch.Tensor] | None:
    with open(path, "rb") as fh:
        length = int.from_bytes(fh.read(8), "little")
        if not 2 <= length <= 100 << 20 or fh.read(1) != b"{":
            return None
        if 8 + length > size:
            raise _error(path, f"a truncated safetensors file (its header needs {8 + length} "
                               f"bytes, the file has {size})", "Download it again")
        try:
            entries = {k: e for k, e in json.loads(b"{" + fh.read(length - 1)).items()
                       if k != "__metadata__"}
            end = max((e["data_offsets"][1] for e in entries.values()), default=0)
            layout = {k: torch.empty(e["shape"], device="meta",
                                     dtype=_SAFETENSORS_DTYPES.get(e["dtype"], torch.uint8))
                      for k, e in entries.items()}
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return None
    if 8 + length + end > size:
        raise _error(path, f"a truncated safetensors file (its tensors need {8 + length + end} "
                           f"bytes, the file has {size})", "Download it again")
    return layout


def _read(path: Path, with_data: bool) -> tuple[str, dict[str, torch.Tensor]]:
    """(container, tensors) of a weights file: meta tensors unless with_data."""
    size = path.stat().st_size
    if zipfile.is_zipfile(path):
        state = torch_zip_state(path, _error, _unwrap)
        container = "torch zip"
    else:
        layout = _safetensors_header(path, size)
        if layout is None:
            with open(path, "rb") as fh:
                raise _error(path, *_describe_bytes(path, fh.read(64), size))
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


# ---------------------------------------------------------------- building and checking
def _config(checkpoint: ClapCheckpoint | None, config_file: str | None, fusion: bool | None):
    """The ClapConfig to build: the folder's config.json, config_file, or LAION's 630k config."""
    from transformers import ClapConfig

    if checkpoint is not None and checkpoint.hf_config is not None:
        return ClapConfig.from_dict(checkpoint.hf_config)
    if config_file:
        try:
            data = json.loads(Path(config_file).read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"config key '{ARCH_KEY}' = {str(config_file)!r}: not a readable "
                                  f"JSON file ({exc})") from exc
        if not isinstance(data, dict) or data.get("model_type", "clap") != "clap":
            raise CheckpointError(f"config key '{ARCH_KEY}' = {str(config_file)!r}: not a transformers "
                                  "ClapConfig (config.json of model_type 'clap')")
        return ClapConfig.from_dict(data)
    if fusion is None:
        fusion = checkpoint.fused if checkpoint is not None else True
    return ClapConfig.from_dict(laion_config(bool(fusion)))


def _check_fusion(checkpoint: ClapCheckpoint, config, fusion: bool | None,
                  config_file: str | None) -> None:
    """The configured fusion, the architecture's and the weights' must agree."""
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


def _mapped(checkpoint: ClapCheckpoint, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return laion_to_hf(tensors) if checkpoint.form == "laion-clap" else dict(tensors)


def _fit(model, state: dict[str, torch.Tensor], checkpoint: ClapCheckpoint) -> dict[str, torch.Tensor]:
    """state completed with the derived buffers the file lacks; CheckpointError if it does not fit."""
    own = model.state_dict()
    state = dict(state)
    for name, value in own.items():
        if name not in state and name.endswith(DERIVED_BUFFERS):
            state[name] = value
    try:
        check_state_dict(model, state, CONFIG_KEY, checkpoint.path)
    except ValueError as exc:
        source = (f"'{ARCH_KEY}' or LAION's HTSAT-tiny + roberta-base"
                  if checkpoint.form == "laion-clap" else "its config.json")
        raise CheckpointError(f"{exc} (the {checkpoint.form} file does not hold the architecture "
                              f"of {source})") from exc
    return state


def _tokenizer_dir(checkpoint: ClapCheckpoint | None, tokenizer: str | None) -> Path:
    if tokenizer:
        folder, key = Path(tokenizer), TOKENIZER_KEY
    elif checkpoint is not None and checkpoint.form == "hf-transformers":
        folder, key = checkpoint.weights.parent, CONFIG_KEY
    else:
        raise CheckpointError(
            f"config key '{TOKENIZER_KEY}' is not set: a {checkpoint.form if checkpoint else 'random'} "
            "CLAP has no tokenizer files; point the key at a folder with roberta-base's tokenizer "
            "(vocab.json + merges.txt, or tokenizer.json), e.g. the laion/clap-htsat-fused folder")
    if not any(all((folder / f).is_file() for f in files) for files in TOKENIZER_FILES):
        raise CheckpointError(f"config key '{key}' = {str(folder)!r}: no tokenizer files (expected "
                              "tokenizer.json, or vocab.json and merges.txt)")
    return folder


def load_tokenizer(folder: str | Path):
    """The RoBERTa (byte-level BPE) tokenizer in a folder, from local files only."""
    from transformers import RobertaTokenizerFast

    return RobertaTokenizerFast.from_pretrained(str(folder), local_files_only=True)


def load_clap(checkpoint: str | Path, fusion: bool | None = True, config_file: str | None = None,
              tokenizer: str | None = None, device: str = "cpu"):
    """(ClapModel in eval mode, tokenizer) from a local checkpoint in a FORMS form.

    fusion is `features.clap.fusion` (None: take whatever the file is); config_file a
    transformers config.json for a LAION file of another architecture; tokenizer a folder of
    tokenizer files (needed for LAION files; a transformers folder brings its own).
    checkpoint "random:<seed>" builds a seeded, untrained model of config_file (tests only).
    FileNotFoundError when nothing is there, CheckpointError (a ValueError) when it is no usable
    CLAP checkpoint.
    """
    from transformers import ClapModel

    checkpoint = str(checkpoint or "")
    if checkpoint.startswith(RANDOM_PREFIX):
        config = _config(None, config_file, fusion)
        torch.manual_seed(int(checkpoint[len(RANDOM_PREFIX):]))
        model = ClapModel(config)
        return model.eval().to(device), load_tokenizer(_tokenizer_dir(None, tokenizer))
    if not checkpoint or not Path(checkpoint).exists():
        raise FileNotFoundError(
            f"CLAP checkpoint not found: config key '{CONFIG_KEY}' = {checkpoint!r}. Pretrained "
            f"weights are published by {CLAP_PUBLISHED_AT}; download them where there is network "
            "and point the key at the file or folder (the demo workflow trains its own model).")
    found = inspect_checkpoint(checkpoint)
    config = _config(found, config_file, fusion)
    _check_fusion(found, config, fusion, config_file)
    tok_dir = _tokenizer_dir(found, tokenizer)
    _, tensors = _read(found.weights, with_data=True)
    state = {k: v.float() if v.is_floating_point() else v for k, v in _mapped(found, tensors).items()}
    model = ClapModel(config)
    model.load_state_dict(_fit(model, state, found))
    return model.eval().to(device), load_tokenizer(tok_dir)


def check_checkpoint(path: str | Path, fusion: bool | None = True, config_file: str | None = None,
                     tokenizer: str | None = None) -> list[str]:
    """Problems with a CLAP checkpoint, found without reading tensor data: its form, every name
    and shape against the architecture (built on the meta device), fusion, tokenizer files."""
    from transformers import ClapModel

    if str(path).startswith(RANDOM_PREFIX):
        return []
    if not Path(path).exists():
        return [f"config key '{CONFIG_KEY}' = {str(path)!r}: no such file or folder. Pretrained "
                f"weights are published by {CLAP_PUBLISHED_AT}"]
    try:
        found = inspect_checkpoint(path)
        config = _config(found, config_file, fusion)
        _check_fusion(found, config, fusion, config_file)
        with torch.device("meta"):
            model = ClapModel(config)
        _fit(model, _mapped(found, found.layout), found)
        _tokenizer_dir(found, tokenizer)
    except CheckpointError as exc:
        return [str(exc)]
    return []


def provenance(checkpoint: str, model) -> dict:
    """The checkpoint's form and container, fusion, and the preprocessing the encoder applies."""
    fused = is_fused(model)
    preprocess = {"sample_rate": AUDIO_RATE, "window": "VALOR: starts round(linspace(0, N, 11)), "
                  "N // 10 samples", "quantise": "int16", "padding": "repeatpad",
                  "clip_samples": CLIP_SAMPLES, "n_fft": N_FFT, "hop": HOP, "mel_bins": MEL_BINS,
                  "fmin": F_MIN, "fmax": F_MAX, "mel_scale": "htk" if fused else "slaney",
                  "input": "4 stacked mels (fusion)" if fused else "1 mel"}
    if str(checkpoint).startswith(RANDOM_PREFIX):
        return {"form": "random", "container": None, "fusion": fused, "preprocess": preprocess}
    found = inspect_checkpoint(checkpoint)
    return {"form": found.form, "container": found.container, "fusion": fused,
            "preprocess": preprocess}


# ---------------------------------------------------------------- released features
VALOR_FEATURE_MAPS = (64, 768)  # VALOR's CLAP/features/<id>.npy


def valor_feature_maps(path: Path, shape: tuple) -> str | None:
    """The problem with a file of VALOR's released CLAP/features layout, or None."""
    if tuple(shape) != VALOR_FEATURE_MAPS:
        return None
    return (f"{path}: shape {tuple(shape)} is VALOR's released CLAP/features layout: HTSAT feature maps "
            f"[{VALOR_FEATURE_MAPS[0]} tokens (2 frequency x 32 time), {VALOR_FEATURE_MAPS[1]} "
            "channels] of the whole 10-s clip, taken before CLAP's audio projection. They are "
            "inputs for a parser (VALOR++ interpolates them to 10 segments), not segment "
            "embeddings in CLAP's joint space, so no text embedding can label them; audio PLG "
            f"needs [{SEGMENTS}, D] window embeddings (extract them, or use VALOR's released "
            "CLAP/segment_pseudo_labels with load_valor_labels)")


def clap_feature_width(path: str | Path) -> int:
    """D of one [10, D] CLAP segment-embedding file, from its header alone."""
    from vplan_core.data.official import segment_feature_width

    return segment_feature_width(path, "CLAP", valor_feature_maps)


def load_clap_features(path: str | Path, width: int | None = None) -> np.ndarray:
    """One [10, D] CLAP segment-embedding file as float32 (D = width when given);
    OfficialFeatureError naming the file otherwise."""
    from vplan_core.data.official import load_segment_features

    return load_segment_features(path, width, "CLAP", valor_feature_maps)


def load_valor_labels(path: str | Path, n_classes: int = 25) -> np.ndarray:
    """VALOR's released segment pseudo labels (CLAP/ or CLIP/segment_pseudo_labels/<id>.npy,
    int64 [10, 25] of 0/1) as uint8 [10, 25]; OfficialFeatureError naming the file otherwise."""
    from vplan_core.data.official import OfficialFeatureError

    path = Path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise OfficialFeatureError(f"{path}: not a readable .npy file ({exc})") from exc
    if array.shape != (SEGMENTS, n_classes):
        raise OfficialFeatureError(f"{path}: shape {array.shape}, VALOR's segment pseudo labels are "
                                   f"[{SEGMENTS}, {n_classes}]")
    if not np.isin(array, (0, 1)).all():
        raise OfficialFeatureError(f"{path}: values other than 0 and 1 (segment pseudo labels are binary)")
    return array.astype(np.uint8)


# ---------------------------------------------------------------- the clap store's extractor
def decode_windows(path: str, offset_s: float = 0.0, *, seconds: float, start_s: float) -> np.ndarray:
    """The ten VALOR windows [10, N // 10] of a video's audio at 48 kHz (mono)."""
    from vplan_core.data.video import sample_audio

    return audio_windows(sample_audio(path, AUDIO_RATE, seconds, start_s + offset_s))


def weights_label(checkpoint: str) -> tuple[str, str]:
    """The store's weights attr and sha256 of a CLAP checkpoint setting (a folder: its weights file)."""
    from vplan_core.features.weights import sha256_file

    if checkpoint.startswith(RANDOM_PREFIX):
        return f"random-seed-{int(checkpoint[len(RANDOM_PREFIX):])}", ""
    found = inspect_checkpoint(checkpoint)
    return str(Path(checkpoint).resolve()), sha256_file(found.weights)


def clap_extractor(s: dict, device: str):
    """features.clap: one CLAP audio embedding a second, of VALOR's window of that second."""
    from vplan_core.features.extractor import Extractor, common_sampling

    model, _ = load_clap(s["checkpoint"], s.get("fusion"), s.get("config"), s.get("tokenizer"), device=device)
    seconds, start_s = s.get("seconds", 10), s.get("start_s", 0.0)
    label, sha = weights_label(str(s["checkpoint"]))
    return Extractor(
        decode=functools.partial(decode_windows, seconds=seconds, start_s=start_s),
        run=functools.partial(encode_windows, model, device=device),
        per_video_shape=lambda: [SEGMENTS, int(model.config.projection_dim)],
        model=f"transformers ClapModel ({'fused' if is_fused(model) else 'unfused'})", weights=label,
        weights_sha256=sha,
        sampling={**common_sampling(s), "sample_rate": AUDIO_RATE, "downmix": "mean of channels",
                  "window": "VALOR: starts round(linspace(0, N, 11)), N // 10 samples each"},
        attrs={"checkpoint_format": provenance(str(s["checkpoint"]), model)})
