"""CLIP image and text embeddings through open_clip, one code path for real and demo models.

A real CLIP is an open_clip architecture name plus a local checkpoint file (e.g. "ViT-B-32" and
the OpenAI ViT-B-32 weights saved to disk); the demo CLIP is the same, with its architecture
registered from a JSON config first. Nothing is downloaded: these machines reach no model hub.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from PIL import Image

from vplan_core.features.weights import RANDOM_PREFIX

PUBLISHED_AT = ("the open_clip pretrained releases (https://github.com/mlfoundations/open_clip, "
                "`open_clip.list_pretrained()`) or OpenAI's CLIP releases (https://github.com/openai/CLIP)")


def load_clip(model_name: str, checkpoint: str | None, config_file: str | None = None,
              device: str = "cpu"):
    """(model in eval mode, preprocess, tokenizer) from an architecture name and a local checkpoint.

    config_file registers an extra architecture (its file name, minus .json, is the model
    name). checkpoint is a file open_clip can load (.pt/.pth/.bin/.safetensors, a state dict
    or {"state_dict": ...}) or "random:<seed>" for a seeded, untrained model (tests only).
    """
    if config_file is not None:
        open_clip.add_model_config(config_file)
    checkpoint = str(checkpoint or "")
    if checkpoint.startswith(RANDOM_PREFIX):
        torch.manual_seed(int(checkpoint[len(RANDOM_PREFIX):]))
        pretrained = None
    elif checkpoint and Path(checkpoint).is_file():
        pretrained = checkpoint
    else:
        raise FileNotFoundError(
            f"CLIP checkpoint for {model_name!r} not found: {checkpoint!r}. Pretrained weights "
            f"are published by {PUBLISHED_AT}; download them where there is network and point "
            f"the checkpoint setting at the file (the demo workflow trains its own model).")
    model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained,
                                                                 device=device)
    return model.eval(), preprocess, open_clip.get_tokenizer(model_name)


@torch.no_grad()
def encode_images(model, preprocess, frames: np.ndarray, batch_size: int = 64,
                  device: str = "cpu") -> np.ndarray:
    """uint8 frames [K, H, W, 3] -> float32 [K, D], L2-normalised, via the model's own preprocess."""
    out = []
    for start in range(0, len(frames), batch_size):
        batch = torch.stack([preprocess(Image.fromarray(f)) for f in frames[start:start + batch_size]])
        out.append(F.normalize(model.encode_image(batch.to(device)).float(), dim=-1).cpu())
    if not out:
        raise ValueError("encode_images got no frames")
    return torch.cat(out).numpy()


@torch.no_grad()
def encode_texts(model, tokenizer, texts: list[str], device: str = "cpu") -> np.ndarray:
    """Prompts -> float32 [C, D], L2-normalised."""
    return F.normalize(model.encode_text(tokenizer(texts).to(device)).float(), dim=-1).cpu().numpy()
