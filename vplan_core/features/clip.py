"""CLIP image and text embeddings through open_clip, one code path for real and demo models.

A real CLIP is an open_clip architecture name plus a local checkpoint file in any form that
clip_checkpoints recognises (OpenAI's TorchScript release, open_clip / hub files, transformers
CLIPModel files); the demo CLIP is the same, with its architecture registered from a JSON
config first. Nothing is downloaded: these machines reach no model hub. The architecture is
always the named one (it also fixes the tokenizer and the preprocess), so a file that does not
hold it is an error naming both config keys; only the activation can come from the checkpoint
(OpenAI's models are QuickGELU, as open_clip's load_openai_model builds them).

open_clip is imported where a model or an architecture's config is needed, not with the module:
the Snakefile's input checks import this module on every run, and open_clip (with torchvision)
costs seconds that a checkpoint in open_clip's own form never needs there.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vplan_core.features.clip_checkpoints import (CheckpointError, ClipCheckpoint,
                                                  inspect_checkpoint, read_tensors,
                                                  to_open_clip_names)
from vplan_core.data.video import segment_middle_times
from vplan_core.data.frames import normalise, resize_crop, resize_squash
from vplan_core.features.decoding import Decoded
from vplan_core.features.extractor import (FRAME_RULE, RESIZE_RULE, Extractor, common_needs, common_sampling,
                                          model_dtype, place_model)
from vplan_core.feature_registry import CLIP_PUBLISHED_AT, RANDOM_PREFIX
from vplan_core.features.weights import check_state_dict, sha256_file

VALOR_FPS = 8  # VALOR's frames: utils/extract_frames.py, ffmpeg -r 8
# features.clip.frames and .resize: (the rule, the store's sampling text)
FRAME_RULES = {"segment_middle": "start_s + segment + 0.5 (segment middle)",
               "valor": f"start_s + k / {VALOR_FPS}, k = round(linspace(0, {VALOR_FPS} * seconds - 1, seconds)): "
                        f"one a segment of the clip's {VALOR_FPS}-fps frames, evenly spaced (VALOR)"}
RESIZES = {"crop": (resize_crop, RESIZE_RULE),
           "squash": (resize_squash, "the whole frame to frame_size x frame_size (bilinear, no antialiasing; VALOR)")}


def frame_times(s: dict) -> np.ndarray:
    """The times of the frames features.clip embeds, one a segment (features.clip.frames)."""
    seconds, start = int(s.get("seconds", 10)), s.get("start_s", 0.0)
    if s.get("frames", "segment_middle") == "segment_middle":
        return segment_middle_times(seconds, start)
    # utils/clip_preprocess.py: np.round(np.linspace(0, len(image_list) - 1, 10)) over the clip's frames
    return start + np.round(np.linspace(0, VALOR_FPS * seconds - 1, seconds)) / VALOR_FPS


@contextlib.contextmanager
def _no_random_init_warning():
    """open_clip warns "initialized randomly" for a model whose weights vplan loads next."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _create(model_name: str, quick_gelu: bool | None, device: str):
    """(untrained model, preprocess); quick_gelu None keeps the architecture's activation."""
    import open_clip

    kwargs = {} if quick_gelu is None else {"quick_gelu": quick_gelu}
    with _no_random_init_warning():
        model, _, preprocess = open_clip.create_model_and_transforms(model_name, device=device,
                                                                     **kwargs)
    return model, preprocess


def _check_fit(model: torch.nn.Module, state: dict, checkpoint: ClipCheckpoint,
               model_name: str, feature: str) -> None:
    try:
        check_state_dict(model, state, f"features.{feature}.checkpoint", checkpoint.path)
    except ValueError as exc:
        raise CheckpointError(f"{exc} (the {checkpoint.form} file does not hold the "
                              f"architecture that 'features.{feature}.model_name' names: {model_name!r})") from exc


def _load_file(model_name: str, checkpoint: ClipCheckpoint, device: str, feature: str):
    import open_clip

    if checkpoint.form == "open_clip":
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=str(checkpoint.path), device=device)
        except RuntimeError as exc:
            raise CheckpointError(
                f"config key 'features.{feature}.checkpoint' = {str(checkpoint.path)!r}: open_clip cannot "
                f"load this {checkpoint.container} state dict into {model_name!r} "
                f"('features.{feature}.model_name'): "
                f"{str(exc)[:800]}") from exc
        return model, preprocess
    model, preprocess = _create(model_name, checkpoint.quick_gelu, device)
    state = to_open_clip_names(checkpoint, read_tensors(checkpoint))
    _check_fit(model, state, checkpoint, model_name, feature)
    model.load_state_dict(state)
    return model, preprocess


def load_clip(model_name: str, checkpoint: str | None, config_file: str | None = None,
              device: str = "cpu", feature: str = "clip"):
    """(model in eval mode, preprocess, tokenizer) from an architecture name and a local checkpoint.

    config_file registers an extra architecture (its file name, minus .json, is the model
    name). checkpoint is a file in a form clip_checkpoints.FORMS names, or "random:<seed>"
    for a seeded, untrained model (tests only). FileNotFoundError when the file is absent,
    CheckpointError (a ValueError) when it is no usable CLIP checkpoint for model_name, naming
    the keys of features.<feature>.
    """
    import open_clip

    if config_file is not None:
        open_clip.add_model_config(config_file)
    checkpoint = str(checkpoint or "")
    if checkpoint.startswith(RANDOM_PREFIX):
        torch.manual_seed(int(checkpoint[len(RANDOM_PREFIX):]))
        model, _, preprocess = open_clip.create_model_and_transforms(model_name, device=device)
    elif checkpoint and Path(checkpoint).is_file():
        model, preprocess = _load_file(model_name, inspect_checkpoint(checkpoint, f"features.{feature}.checkpoint"),
                                       device, feature)
    else:
        raise FileNotFoundError(
            f"CLIP checkpoint for {model_name!r} not found: {checkpoint!r}. Pretrained weights "
            f"are published by {CLIP_PUBLISHED_AT}; download them where there is network and point "
            f"the checkpoint setting at the file (the demo workflow trains its own model).")
    return model.eval(), preprocess, open_clip.get_tokenizer(model_name)


def check_checkpoint(path: str | Path, model_name: str, config_file: str | None = None,
                     feature: str = "clip") -> list[str]:
    """Problems with a CLIP checkpoint file, found without reading its tensor data.

    For the forms vplan maps itself (OpenAI TorchScript, transformers) every name and shape is
    compared with the named architecture, built on the meta device (no memory, no init). An
    open_clip state dict is only recognised here: open_clip's loader adapts some of them
    (resized position embeddings, older text-tower names), so it alone decides at load time.
    """
    try:
        checkpoint = inspect_checkpoint(path, f"features.{feature}.checkpoint")
        if checkpoint.form != "open_clip":
            import open_clip

            if config_file is not None:
                open_clip.add_model_config(config_file)
            with torch.device("meta"):
                model, _ = _create(model_name, checkpoint.quick_gelu, "meta")
            _check_fit(model, to_open_clip_names(checkpoint, checkpoint.layout), checkpoint,
                       model_name, feature)
    except CheckpointError as exc:
        return [str(exc)]
    except RuntimeError as exc:  # open_clip: no such architecture
        return [f"config key 'features.{feature}.model_name' = {model_name!r}: {exc}"]
    return []


def provenance(checkpoint: str, model: torch.nn.Module) -> dict:
    """The checkpoint's form and container, and the activation the loaded model computes."""
    activations = sorted({type(m).__name__ for m in model.modules()} & {"GELU", "QuickGELU"})
    if checkpoint.startswith(RANDOM_PREFIX):
        return {"form": "random", "container": None, "activation": activations}
    found = inspect_checkpoint(checkpoint)
    return {"form": found.form, "container": found.container, "activation": activations}


def model_frames(model, frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames [K, H, W, 3] -> uint8 [K, S, S, 3] as the model's own preprocess sizes them
    (preprocess_cfg: shorter side to S with its interpolation, centre crop), as tensor ops."""
    cfg = model.visual.preprocess_cfg
    size = cfg["size"][0] if isinstance(cfg["size"], (tuple, list)) else cfg["size"]
    if cfg.get("resize_mode", "shortest") != "shortest":
        raise ValueError(f"CLIP preprocess resize_mode {cfg['resize_mode']!r}: only 'shortest' is implemented")
    return frames if frames.shape[1:3] == (size, size) else resize_crop(frames, size, mode=cfg.get("interpolation", "bicubic"))


def image_input(model, frames: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 frames [K, S, S, 3] of model_frames -> the normalised image input [K, 3, S, S]."""
    cfg = model.visual.preprocess_cfg
    return normalise(frames, cfg["mean"], cfg["std"], dtype)


@torch.no_grad()
def encode_images(model, frames, batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """uint8 frames [K, H, W, 3] -> float32 [K, D], L2-normalised, via image_input."""
    frames = torch.as_tensor(frames)
    if not len(frames):
        raise ValueError("encode_images got no frames")
    dtype = next(model.parameters()).dtype
    return torch.cat([F.normalize(model.encode_image(image_input(model, model_frames(model, frames[i:i + batch_size].to(device)),
                                                                 dtype)).float(), dim=-1).cpu()
                      for i in range(0, len(frames), batch_size)]).numpy()


@torch.no_grad()
def encode_texts(model, tokenizer, texts: list[str], device: str = "cpu") -> np.ndarray:
    """Prompts -> float32 [C, D], L2-normalised."""
    return F.normalize(model.encode_text(tokenizer(texts).to(device)).float(), dim=-1).cpu().numpy()


def text_width(model_name: str, config_file: str | None = None, feature: str = "clip") -> int:
    """Width of the text embeddings of an open_clip architecture, from its config alone."""
    import open_clip

    if config_file is not None:
        open_clip.add_model_config(config_file)
    model_config = open_clip.get_model_config(model_name)
    if model_config is None:
        raise ValueError(f"config key 'features.{feature}.model_name': {model_name!r} is no open_clip architecture "
                         f"(open_clip.list_models() names them)")
    return int(model_config["embed_dim"])


def check_clip_features(clip_dir: str | Path, model_name: str, config_file: str | None = None,
                        feature: str = "clip", *, segments: int | None) -> list[str]:
    """Problems with released CLIP image embeddings (dataset.clip_features) for PLG with the
    configured CLIP's text embeddings: no files, an unreadable file (or one of other than
    `segments` rows; None: any rows, videos of any length), widths that differ."""
    from vplan_core.data.official import OfficialFeatureError, first_feature_file, segment_feature_width

    sample = first_feature_file(clip_dir)
    if sample is None:
        return [f"config key 'dataset.clip_features': no <id>.npy files in {clip_dir}"]
    try:
        image, text = segment_feature_width(sample, segments=segments), text_width(model_name, config_file, feature)
    except (OfficialFeatureError, ValueError) as exc:
        return [f"config key 'dataset.clip_features': {exc}"]
    if image != text:
        return [f"config key 'dataset.clip_features': image embeddings of width {image} ({sample}), but "
                f"config key 'features.{feature}.model_name' = {model_name!r} gives text embeddings of width "
                f"{text}; PLG compares the two (VALOR's 768-d features need ViT-L-14)"]
    return []


def weights_label(checkpoint: str | None) -> tuple[str, str]:
    """The store's weights attr and sha256 of a CLIP checkpoint setting."""
    if checkpoint and checkpoint.startswith(RANDOM_PREFIX):
        return f"random-seed-{int(checkpoint[len(RANDOM_PREFIX):])}", ""
    if checkpoint and Path(checkpoint).is_file():
        return str(Path(checkpoint).resolve()), sha256_file(checkpoint)
    return f"unverified: {checkpoint}", ""


def clip_extractor(s: dict, device: str, feature: str = "clip") -> Extractor:
    """features.clip: one image embedding a second, of the frame features.clip.frames chooses."""
    model, _, _ = load_clip(s["model_name"], s.get("checkpoint"), s.get("config_file"), device, feature)
    model = place_model(model, device)
    size = s.get("size", 224)
    times = frame_times(s)
    resize, resize_rule = RESIZES[s.get("resize", "crop")]
    # VALOR's squash resizes the whole frame without antialiasing: a decode-time reduction of
    # large frames (data/frames.py reduce_frames) would change its pixels, so it reads them whole
    decode_size = None if resize is resize_squash else size
    dtype = model_dtype(device)

    def prepare(decoded: Decoded) -> torch.Tensor:
        return model_frames(model, resize(decoded.frames_at(times), size))

    def run(frames: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return F.normalize(model.encode_image(image_input(model, frames, dtype)).float(), dim=-1)

    label, sha = weights_label(s.get("checkpoint"))
    return Extractor(
        needs=common_needs(s, frame_times=times, frame_size=decode_size), prepare=prepare, run=run,
        per_video_shape=lambda: [len(times), int(model.visual.output_dim)],
        model=f"open_clip:{s['model_name']}", weights=label, weights_sha256=sha, device=torch.device(device),
        sampling={**common_sampling(s), "frame_size": size,
                  "frame_times": FRAME_RULES[s.get("frames", "segment_middle")],
                  "frame_rule": FRAME_RULE, "resize": resize_rule + ", then CLIP preprocess (tensor ops)"},
        attrs={"checkpoint_format": provenance(str(s.get("checkpoint") or ""), model)})


def text_embeddings(settings: dict, texts: list[str], feature: str = "clip") -> dict:
    """PLG's text side: the prompts' embeddings by the configured CLIP's text tower, and its
    logit scale exp(logit_scale), which VALOR's thresholds are on (transformers' logits_per_image)."""
    model, _, tokenizer = load_clip(settings["model_name"], settings["checkpoint"], settings.get("config_file"),
                                    feature=feature)
    return {"embeddings": encode_texts(model, tokenizer, texts),
            "logit_scale": np.float32(model.logit_scale.detach().exp())}


def check_weights(settings: dict, feature: str = "clip") -> list[str]:
    """The configured checkpoint's form and architecture (features.<feature>), before any job."""
    return check_checkpoint(settings["checkpoint"], settings["model_name"], settings.get("config_file"), feature)


def check_released_folder(folder: str, settings: dict, feature: str, segments: int | None) -> list[str]:
    """Released CLIP image embeddings of `segments` rows (None: any) against the configured
    CLIP's text tower, before any job."""
    return check_clip_features(folder, settings["model_name"], settings.get("config_file"), feature,
                               segments=segments)
