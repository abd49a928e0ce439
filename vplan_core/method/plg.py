"""PLG: segment-level visual pseudo labels from CLIP embeddings (docs/method.md Eq. 3-4), and
audio pseudo labels from CLAP embeddings (VALOR, Lai et al. NeurIPS 2023).

Works on precomputed embeddings only (image or audio [N, T, D], text [C, D]), so the label
pipeline is independent of both the CLIP/CLAP implementation and the parsing backbone. Audio PLG
uses the same softmax-tau rule (segment_scores, pseudo_labels) by default; VALOR's own rule,
per-class thresholds on CLAP's scaled logits, is threshold_labels.
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
# VALOR's CLAP prompt (utils/clap_preprocess.py: "This is a sound of " + class name, lower case).
AUDIO_PROMPT = "This is a sound of [CLS]"
# VALOR's per-class thresholds on CLAP logits (utils/clap_preprocess.py, Franklin905/VALOR at
# 2677da9), in LLP's class order; a segment gets class c when exp(logit_scale_a) * cos(audio,
# text_c) > VALOR_CLAP_THRESHOLDS[c] and c is in the video label. They were chosen for LAION's
# 630k-fusion-best.pt (laion_clap's model_id=2; its logit scale is read from the model, not
# assumed here) and mean nothing for another CLAP, the demo's included.
VALOR_CLAP_THRESHOLDS = (0, 0, 1, 4, 6, -2, 4, 4, 2, 2, 2, 1, 2, 3, 0, 2, 2, 2, 0, 2, -1, 2, 3, 3, 0)


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


def clap_logits(audio_emb: np.ndarray, text_emb: np.ndarray, logit_scale: float) -> np.ndarray:
    """VALOR's segment logits: logit_scale * cos(audio, text); [N, T, D], [C, D] -> float32 [N, T, C].

    logit_scale is CLAP's exp(logit_scale_a) (features.clap.logit_scale(model)).
    """
    return (logit_scale * (_normalise(audio_emb) @ _normalise(text_emb).T)).astype(np.float32)


def threshold_labels(logits: np.ndarray, thresholds: Sequence[float] | np.ndarray,
                     video_labels: np.ndarray) -> np.ndarray:
    """VALOR's rule: Ŷ_tc = 1(logit_tc > θ_c) ⊙ y_c.

    logits [N, T, C] (clap_logits), thresholds [C] (VALOR_CLAP_THRESHOLDS for LAION's fused CLAP),
    video_labels [N, C] -> uint8 [N, T, C]. Classes outside the video label stay 0.
    """
    logits = np.asarray(logits)
    theta = np.asarray(thresholds, dtype=np.float64)
    if theta.shape != (logits.shape[-1],):
        raise ValueError(f"thresholds of shape {theta.shape} for logits of {logits.shape[-1]} classes")
    y = np.asarray(video_labels).astype(bool)[:, None, :]
    return ((logits > theta) & y).astype(np.uint8)


def video_pseudo_labels(segment_labels: np.ndarray) -> np.ndarray:
    """ŷ^v_c = max_t Ŷ_tc: [N, T, C] -> uint8 [N, C]."""
    return np.asarray(segment_labels).max(axis=1).astype(np.uint8)


def label_segments(segments: np.ndarray, text: dict, video_labels: np.ndarray, rule: str = "softmax",
                   tau: float = DEFAULT_TAU) -> np.ndarray:
    """PLG's labels of segment embeddings [N, T, D] against a text embeddings file's arrays
    (`embeddings` [C, D], and `logit_scale` for VALOR's thresholds), masked by video_labels
    [N, C]: Eq. 3-4's softmax and tau ("softmax"), or VALOR's per-class logit thresholds
    ("thresholds", chosen for LAION's fused CLAP)."""
    if rule == "thresholds":
        logits = clap_logits(segments, text["embeddings"], float(text["logit_scale"]))
        return threshold_labels(logits, VALOR_CLAP_THRESHOLDS, video_labels)
    if rule != "softmax":
        raise ValueError(f"unknown PLG rule {rule!r}; expected softmax or thresholds")
    return pseudo_labels(segment_scores(segments, text["embeddings"]), video_labels, tau)
