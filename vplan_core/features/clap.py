"""CLAP audio and text embeddings for audio PLG, through transformers' ClapModel.

Audio PLG (VALOR, Lai et al. NeurIPS 2023; the VPLAN journal version) labels each one-second
segment with the classes whose CLAP text embedding the segment's audio embedding matches. This
module is its library part and the face the workflow imports: loading a CLAP checkpoint (and
checking one without loading it), encoding windows and prompts, reading released CLAP features,
and the clap store's extractor. Two modules beside it hold the rest:
  clap_audio        VALOR's windows and LAION-CLAP's audio front end (log-mel), in torch;
  clap_checkpoints  the published checkpoint forms, recognised from their content, and LAION's
                    names mapped onto ClapModel's.

Dependency: transformers (pinned in requirements.txt), not laion_clap. laion-clap 1.1.7, the
reference package, cannot serve an offline, pinned pipeline: it requires numpy<2 (the project
pins numpy 2.4.6), pulls in wandb, webdataset, librosa/numba and more, and builds its text tower
with RobertaModel.from_pretrained('roberta-base') (importing it even runs
BertTokenizer.from_pretrained at module level), so it cannot construct a model without the
model hub. transformers' ClapModel is the same network (HTSAT-tiny audio tower, RoBERTa text
tower, two-layer projections; transformers' conversion script maps LAION's weights onto it),
builds from a config alone, loads local files only, and its tokenizers load from local files.

transformers is imported where a model, config or tokenizer is needed, not with the module: it
costs seconds, and workflow input checks may import this module on every run.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vplan_core.feature_registry import CLAP_PUBLISHED_AT, RANDOM_PREFIX, VALOR_CLAP_MAPS
from vplan_core.features.clap_audio import (AUDIO_RATE, CLIP_SAMPLES, F_MAX, F_MIN, HOP, MEL_BINS, N_FFT,
                                            SEGMENTS, audio_windows, model_input)
from vplan_core.features.clap_checkpoints import (ARCH_KEY, CONFIG_KEY, TOKENIZER_KEY, CheckpointError,
                                                  ClapCheckpoint, check_fusion, inspect_checkpoint,
                                                  laion_config, read_tensors, to_hf_names)
from vplan_core.features.weights import check_state_dict, meta_model

TEXT_MAX_LENGTH = 77  # laion_clap's tokenize: padding="max_length", max_length=77
TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))  # either set loads
# Buffers a model derives from its config: a file may lack them (newer torch/transformers save
# fewer buffers); when a file has one it must match.
DERIVED_BUFFERS = ("position_ids", "token_type_ids", "relative_position_index", "num_batches_tracked")


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


def _check_fit(checkpoint: ClapCheckpoint, config) -> None:
    """The architecture of `config` against the file's tensor layout, on the meta device: a
    config.json of another (e.g. far larger) architecture is refused before any memory is spent."""
    from transformers import ClapModel

    try:
        model = meta_model(lambda: ClapModel(config), len(checkpoint.layout))
    except ValueError as exc:
        raise CheckpointError(f"config key '{CONFIG_KEY}' = {str(checkpoint.path)!r}: its architecture's "
                              f"settings do not fit its weights ({exc})") from exc
    _fit(model, to_hf_names(checkpoint, checkpoint.layout), checkpoint)


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
              tokenizer: str | None = None, device: str = "cpu", text: bool = True):
    """(ClapModel in eval mode, tokenizer) from a local checkpoint in a form clap_checkpoints.FORMS names.

    fusion is `features.clap.fusion` (None: take whatever the file is); config_file a
    transformers config.json for a LAION file of another architecture; tokenizer a folder of
    tokenizer files (needed for LAION files; a transformers folder brings its own).
    checkpoint "random:<seed>" builds a seeded, untrained model of config_file (tests only).
    text=False: the audio tower's use alone (feature maps), no tokenizer needed (None is returned).
    FileNotFoundError when nothing is there, CheckpointError (a ValueError) when it is no usable
    CLAP checkpoint.
    """
    from transformers import ClapModel

    checkpoint = str(checkpoint or "")
    if checkpoint.startswith(RANDOM_PREFIX):
        config = _config(None, config_file, fusion)
        torch.manual_seed(int(checkpoint[len(RANDOM_PREFIX):]))
        model = ClapModel(config)
        return model.eval().to(device), load_tokenizer(_tokenizer_dir(None, tokenizer)) if text else None
    if not checkpoint or not Path(checkpoint).exists():
        raise FileNotFoundError(
            f"CLAP checkpoint not found: config key '{CONFIG_KEY}' = {checkpoint!r}. Pretrained "
            f"weights are published by {CLAP_PUBLISHED_AT}; download them where there is network "
            "and point the key at the file or folder (the demo workflow trains its own model).")
    found = inspect_checkpoint(checkpoint)
    config = _config(found, config_file, fusion)
    check_fusion(found, config, fusion, config_file)
    tok_dir = _tokenizer_dir(found, tokenizer) if text else None
    _check_fit(found, config)
    state = {k: v.float() if v.is_floating_point() else v
             for k, v in to_hf_names(found, read_tensors(found)).items()}
    model = ClapModel(config)  # built for real only once its config fits the file's tensors
    model.load_state_dict(_fit(model, state, found))
    return model.eval().to(device), load_tokenizer(tok_dir) if text else None


def check_checkpoint(path: str | Path, fusion: bool | None = True, config_file: str | None = None,
                     tokenizer: str | None = None, text: bool = True) -> list[str]:
    """Problems with a CLAP checkpoint, found without reading tensor data: its form, every name
    and shape against the architecture (built on the meta device), fusion, tokenizer files
    (when `text`: what load_clap needs)."""
    if str(path).startswith(RANDOM_PREFIX):
        return []
    if not Path(path).exists():
        return [f"config key '{CONFIG_KEY}' = {str(path)!r}: no such file or folder. Pretrained "
                f"weights are published by {CLAP_PUBLISHED_AT}"]
    try:
        found = inspect_checkpoint(path)
        config = _config(found, config_file, fusion)
        check_fusion(found, config, fusion, config_file)
        _check_fit(found, config)
        if text:
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


# ---------------------------------------------------------------- encoding
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
def embed_windows(model, windows: torch.Tensor) -> torch.Tensor:
    """Windows of one length [n, L] (float, on the model's device) -> float32 [n, D],
    L2-normalised CLAP audio embeddings. The preprocessing runs in float32, the model in its dtype."""
    inputs = model_input(windows.float(), is_fused(model))
    inputs["input_features"] = inputs["input_features"].to(model.dtype)
    return F.normalize(model.get_audio_features(**inputs).pooler_output.float(), dim=-1)


def encode_windows(model, windows: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Windows of one length [n, L] -> float32 [n, D], L2-normalised CLAP audio embeddings."""
    return embed_windows(model, torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)).to(device)).cpu().numpy()


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


# ---------------------------------------------------------------- released features


def text_embeddings(settings: dict, texts: list[str], feature: str = "clap") -> dict:
    """Audio PLG's text side: the prompts' embeddings by the configured CLAP's text tower, and
    its logit scale (VALOR's threshold rule reads logits)."""
    model, tokenizer = load_clap(settings["checkpoint"], settings.get("fusion"), settings.get("config"),
                                 settings.get("tokenizer"))
    return {"embeddings": encode_texts(model, tokenizer, texts), "logit_scale": np.float32(logit_scale(model))}


def check_weights(settings: dict, feature: str = "clap") -> list[str]:
    """The configured checkpoint's form, fusion and tokenizer (features.clap), before any job."""
    return check_checkpoint(settings["checkpoint"], settings.get("fusion"), settings.get("config"),
                            settings.get("tokenizer"))


def valor_feature_maps(path: Path, shape: tuple) -> str | None:
    """The problem with a file of VALOR's released CLAP/features layout, or None."""
    if tuple(shape) != VALOR_CLAP_MAPS:
        return None
    return (f"{path}: shape {tuple(shape)} is VALOR's released CLAP/features layout: HTSAT feature maps "
            f"[{VALOR_CLAP_MAPS[0]} tokens (2 frequency x 32 time), {VALOR_CLAP_MAPS[1]} "
            "channels] of the whole 10-s clip, taken before CLAP's audio projection. They are "
            "inputs for a parser (VALOR++: set dataset.clap_feature_maps and a parser's "
            "inputs.audio: clap_maps), not segment "
            "embeddings in CLAP's joint space, so no text embedding can label them; audio PLG "
            f"needs [{SEGMENTS}, D] window embeddings (extract them, or use VALOR's released "
            "CLAP/segment_pseudo_labels: dataset.released_labels.audio)")


def clap_feature_width(path: str | Path) -> int:
    """D of one [10, D] CLAP segment-embedding file, from its header alone."""
    from vplan_core.data.official import segment_feature_width

    return segment_feature_width(path, "CLAP", valor_feature_maps)


def load_clap_features(path: str | Path, width: int | None = None) -> np.ndarray:
    """One [10, D] CLAP segment-embedding file as float32 (D = width when given);
    OfficialFeatureError naming the file otherwise."""
    from vplan_core.data.official import load_segment_features

    return load_segment_features(path, width, "CLAP", valor_feature_maps)


# ---------------------------------------------------------------- the clap store's extractor
def weights_label(checkpoint: str) -> tuple[str, str]:
    """The store's weights attr and sha256 of a CLAP checkpoint setting (a folder: its weights file)."""
    from vplan_core.features.weights import sha256_file

    if checkpoint.startswith(RANDOM_PREFIX):
        return f"random-seed-{int(checkpoint[len(RANDOM_PREFIX):])}", ""
    found = inspect_checkpoint(checkpoint)
    return str(Path(checkpoint).resolve()), sha256_file(found.weights)


def clap_extractor(s: dict, device: str, feature: str = "clap"):
    """features.clap: one CLAP audio embedding a second, of VALOR's window of that second."""
    from vplan_core.features.extractor import Extractor, common_needs, common_sampling, place_model

    model, _ = load_clap(s["checkpoint"], s.get("fusion"), s.get("config"), s.get("tokenizer"), device=device)
    model = place_model(model, device)
    seconds, start_s = s.get("seconds", 10), s.get("start_s", 0.0)
    label, sha = weights_label(str(s["checkpoint"]))

    def prepare(decoded) -> torch.Tensor:
        return torch.from_numpy(audio_windows(decoded.audio[AUDIO_RATE].numpy())).to(device, non_blocking=True)

    return Extractor(
        needs=common_needs(s, audio_rate=AUDIO_RATE), prepare=prepare,
        run=functools.partial(embed_windows, model),
        per_video_shape=lambda: [SEGMENTS, int(model.config.projection_dim)],
        model=f"transformers ClapModel ({'fused' if is_fused(model) else 'unfused'})", weights=label,
        weights_sha256=sha, device=torch.device(device),
        sampling={**common_sampling(s), "sample_rate": AUDIO_RATE, "downmix": "mean of channels",
                  "window": "VALOR: starts round(linspace(0, N, 11)), N // 10 samples each"},
        attrs={"checkpoint_format": provenance(str(s["checkpoint"]), model)})
