"""PLG: segment-level visual pseudo labels from CLIP embeddings (docs/method.md Eq. 3-4), and
audio pseudo labels from CLAP embeddings (VALOR, Lai et al. NeurIPS 2023).

Works on precomputed embeddings only (image or audio [N, T, D], text [C, D]), so the label
pipeline is independent of both the CLIP/CLAP implementation and the parsing backbone. Audio PLG
uses the same softmax-tau rule (segment_scores, pseudo_labels) by default; VALOR's own rule,
per-class thresholds on the scaled logits of CLIP (visual) or CLAP (audio), is threshold_labels,
with VALOR's captions as prompts (CAPTIONS).
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
# VALOR's captions, whole sentences in LLP's class order (Franklin905/VALOR at 2677da9, each
# script's __main__), which a prompt setting names instead of a template. CLIP's keep their
# spelling ("vaccum", "guiter"); CLAP's are AUDIO_PROMPT on VALOR's own class names, which keep
# the commas of "Chicken, rooster" and "Baby cry, infant cry" (readable_class_name has none).
CAPTIONS = {
    "VALOR-CLIP": (  # utils/clip_preprocess.py
        "A photo of people talking.", "A photo of a car.", "A photo of people cheering.", "A photo of a dog.",
        "A photo of a cat.", "A photo of frying food.", "A photo of people playing basketball.",
        "A photo of a fire alarm.", "A photo of a chainsaw.", "A photo of a cello.", "A photo of a banjo.",
        "A photo of people singing.", "A photo of a chicken or a rooster.", "A photo of a violin.",
        "A photo of a vaccum cleaner.", "A photo of a laughing baby.", "A photo of an accordion.",
        "A photo of a lawnmower.", "A photo of a motorcycle.", "A photo of a helicopter.",
        "A photo of a acoustic guiter.", "A photo of a ringing telephone.", "A photo of a crying baby.",
        "A photo of a blender.", "A photo of hands clapping."),
    "VALOR-CLAP": tuple("This is a sound of " + name.lower() for name in (  # utils/clap_preprocess.py
        "Speech", "Car", "Cheering", "Dog", "Cat", "Frying (food)", "Basketball bounce", "Fire alarm",
        "Chainsaw", "Cello", "Banjo", "Singing", "Chicken, rooster", "Violin fiddle", "Vacuum cleaner",
        "Baby laughter", "Accordion", "Lawn mower", "Motorcycle", "Helicopter", "Acoustic guitar",
        "Telephone bell ringing", "Baby cry, infant cry", "Blender", "Clapping")),
}
# VALOR's per-class thresholds on the scaled logits (each script's __main__), in LLP's class
# order: a segment gets class c when logit_scale * cos(segment, caption_c) > threshold_c and c is
# in the video label. They were chosen for VALOR's captions on its models, CLIP ViT-L/14
# (openai/clip-vit-large-patch14: logits_per_image) and LAION's 630k-fusion-best.pt (laion_clap's
# model_id=2), and mean nothing for another model, the demo's included. The logit scale is read
# from the model, not assumed here.
VALOR_CLIP_THRESHOLDS = (20, 15, 18, 14, 15, 18, 18, 15, 15, 15, 15, 18, 15, 15, 15, 15, 15, 15, 15, 16,
                         14, 15, 15, 15, 18)
VALOR_CLAP_THRESHOLDS = (0, 0, 1, 4, 6, -2, 4, 4, 2, 2, 2, 1, 2, 3, 0, 2, 2, 2, 0, 2, -1, 2, 3, 3, 0)


def readable_class_name(name: str) -> str:
    """LLP class id to prompt text: "Frying_(food)" -> "frying (food)"."""
    return name.replace("_", " ").lower()


def prompt_texts(template: str, classes: Sequence[str]) -> list[str]:
    """One prompt per class; template is a PROMPTS key, a literal string containing [CLS], or a
    CAPTIONS key (LLP's classes only, in LLP's order: its captions are written for them; the
    method layer knows no data set, so only their count is checked here)."""
    if template in CAPTIONS:
        if len(classes) != len(CAPTIONS[template]):
            raise ValueError(f"prompt {template!r} holds captions of LLP's {len(CAPTIONS[template])} classes, "
                             f"not of {len(classes)}: {list(classes)[:3]}...")
        return list(CAPTIONS[template])
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


def scaled_logits(segment_emb: np.ndarray, text_emb: np.ndarray, logit_scale: float) -> np.ndarray:
    """VALOR's segment logits: logit_scale * cos(segment, text); [N, T, D], [C, D] -> float32 [N, T, C].

    logit_scale is the model's exp(logit_scale): CLIP's (transformers' logits_per_image), or
    CLAP's exp(logit_scale_a) (features.clap.logit_scale(model)).
    """
    return (logit_scale * (_normalise(segment_emb) @ _normalise(text_emb).T)).astype(np.float32)


def threshold_labels(logits: np.ndarray, thresholds: Sequence[float] | np.ndarray,
                     video_labels: np.ndarray) -> np.ndarray:
    """VALOR's rule: Ŷ_tc = 1(logit_tc > θ_c) ⊙ y_c.

    logits [N, T, C] (scaled_logits), thresholds [C] (VALOR_CLIP_THRESHOLDS, VALOR_CLAP_THRESHOLDS),
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
                   tau: float = DEFAULT_TAU, thresholds: Sequence[float] | None = None) -> np.ndarray:
    """PLG's labels of segment embeddings [N, T, D] against a text embeddings file's arrays
    (`embeddings` [C, D], and `logit_scale` for thresholds), masked by video_labels [N, C]:
    Eq. 3-4's softmax and tau ("softmax"), or per-class thresholds [C] on the scaled logits
    ("thresholds": VALOR's, its feature's spec gives them)."""
    if rule == "thresholds":
        if thresholds is None:
            raise ValueError("PLG rule 'thresholds' needs the per-class thresholds")
        logits = scaled_logits(segments, text["embeddings"], float(text["logit_scale"]))
        return threshold_labels(logits, thresholds, video_labels)
    if rule != "softmax":
        raise ValueError(f"unknown PLG rule {rule!r}; expected softmax or thresholds")
    return pseudo_labels(segment_scores(segments, text["embeddings"]), video_labels, tau)


def label_videos(videos: list[np.ndarray], text: dict, video_labels: np.ndarray, **settings) -> list[np.ndarray]:
    """label_segments of videos of any length (one [T_i, D] array each), a video at a time: every
    rule labels a segment from its own embedding alone (a softmax over classes, or per-class
    thresholds), so a video gets the labels it would get in a batch. -> uint8 [T_i, C] each."""
    return [label_segments(x[None], text, video_labels[i:i + 1], **settings)[0] for i, x in enumerate(videos)]
