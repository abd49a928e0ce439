"""PLG: segment-level visual pseudo labels from CLIP embeddings (docs/method.md Eq. 3-4).

Works on precomputed embeddings only (image [N, T, D], text [C, D]), so the label pipeline is
independent of both the CLIP implementation and the parsing backbone.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PROMPTS = {
    "P1": "This photo contains the [CLS]",
    "P2": "This photo contains the scene of [CLS]",
    "P3": "This photo contains the visual scene of [CLS]",
    "P4": "This is a photo of the [CLS]",
}
DEFAULT_TAU = 0.04


def readable_class_name(name: str) -> str:
    """LLP class id to prompt text: "Frying_(food)" -> "frying (food)"."""
    return name.replace("_", " ").lower()


def prompt_texts(template: str, classes: Sequence[str]) -> list[str]:
    """One prompt per class; template is a PROMPTS key or a literal string containing [CLS]."""
    text = PROMPTS.get(template, template)
    if "[CLS]" not in text:
        raise ValueError(f"prompt template {template!r} has no [CLS] placeholder")
    return [text.replace("[CLS]", readable_class_name(c)) for c in classes]


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def segment_scores(image_emb: np.ndarray, text_emb: np.ndarray) -> np.ndarray:
    """Eq. 3: s_t = softmax over classes of the raw cosine similarities (no logit scale).

    image_emb [N, T, D], text_emb [C, D] -> float32 [N, T, C].
    """
    sim = _normalise(image_emb) @ _normalise(text_emb).T
    sim -= sim.max(axis=-1, keepdims=True)
    e = np.exp(sim)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def pseudo_labels(scores: np.ndarray, video_labels: np.ndarray, tau: float = DEFAULT_TAU) -> np.ndarray:
    """Eq. 4: Ŷ_t = 1(s_t > τ) ⊙ y; scores [N, T, C], video_labels [N, C] -> uint8 [N, T, C]."""
    y = np.asarray(video_labels).astype(bool)[:, None, :]
    return ((np.asarray(scores) > tau) & y).astype(np.uint8)


def video_pseudo_labels(segment_labels: np.ndarray) -> np.ndarray:
    """ŷ^v_c = max_t Ŷ_tc: [N, T, C] -> uint8 [N, C]."""
    return np.asarray(segment_labels).max(axis=1).astype(np.uint8)
