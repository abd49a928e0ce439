"""Train the demo CLIP: a small open_clip model that knows the 25 demo objects.

No pretrained CLIP weights can be fetched here, so the demo workflow trains its own from
synthetic single-object images (render.render_object_image), never from demo clips or their
labels: PLG must get its visual knowledge from outside the data set, as with real CLIP. Like
web photos, these images show small, partly occluded, dark and blurred objects too, at the
rates of render.CONDITIONS (each image is still framed around its one captioned object).
Captions vary over the four prompt styles P1-P4 of method.md, so the model works with whichever
prompt PLG is configured to use. Besides CLIP's contrastive loss, two terms give the raw
cosines the near-uniform absent-class similarities that PLG's tau = 1/C relies on
(plg_geometry_loss). The checkpoint is a plain open_clip checkpoint ({"state_dict": ...});
features/clip.load_clip loads it exactly like a real CLIP.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import open_clip
import torch
import torch.nn.functional as F

from vplan_core import atomic
from vplan_core.data.frames import resize_crop
from vplan_core.demo.render import render_object_image
from vplan_core.features.clip import encode_images, encode_texts, image_input
from vplan_core.data.description import LLP

CLASSES = LLP.classes  # the demo world is a miniature LLP
from vplan_core.method.plg import DEFAULT_TAU, PROMPTS, prompt_texts, segment_scores

MODEL_NAME = "vplan-demo-clip"
CONFIG_FILE = Path(__file__).with_name(f"{MODEL_NAME}.json")
LOGIT_SCALE = 5.0  # fixed temperature 0.2: a low scale keeps pushing all classes apart
SIMPLEX_WEIGHT = 10.0  # see plg_geometry_loss
SPREAD_WEIGHT = 10.0


def _templates(prompt_template: str) -> list[str]:
    """The configured prompt plus P1-P4, without repeats."""
    return list(dict.fromkeys([PROMPTS.get(prompt_template, prompt_template), *PROMPTS.values()]))


def object_images(n: int, seed: int, image_size: int, model_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [n, model_size, model_size, 3], class int64 [n]): balanced classes, shuffled.

    Images are rendered at image_size (the centre crop of a demo frame, 144 px for 192x144
    clips) and shrunk as the extractor shrinks frames for CLIP (clip.model_frames: bicubic, antialiased).
    """
    rng = np.random.default_rng([seed, 0])
    labels = rng.permutation(np.arange(n) % len(CLASSES))
    images = np.empty((n, model_size, model_size, 3), dtype=np.uint8)
    for i, c in enumerate(labels):
        images[i] = resize_crop(render_object_image(int(c), rng, image_size), model_size, mode="bicubic").numpy()
    return images, labels.astype(np.int64)


def model_image_size(model: torch.nn.Module) -> int:
    """Side of the square image the model's preprocess produces."""
    size = model.visual.preprocess_cfg["size"]
    return size[0] if isinstance(size, (tuple, list)) else size


def contrastive_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, labels: torch.Tensor,
                     logit_scale: float) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP's loss) where every pair of one class counts as a match.

    With 25 classes a batch holds many images of one class; plain CLIP loss would push those
    apart as negatives. Here the target mass is spread over all same-class captions.
    """
    logits = logit_scale * image_emb @ text_emb.T
    positive = labels[:, None] == labels[None, :]

    def multi_positive_nll(lg: torch.Tensor) -> torch.Tensor:
        matches = torch.logsumexp(lg.masked_fill(~positive, -math.inf), dim=1)
        return (torch.logsumexp(lg, dim=1) - matches).mean()

    return (multi_positive_nll(logits) + multi_positive_nll(logits.T)) / 2


def plg_geometry_loss(image_emb: torch.Tensor, class_text_emb: torch.Tensor,
                      labels: torch.Tensor) -> torch.Tensor:
    """Pull the raw cosines toward the geometry PLG's threshold tau = 1/C assumes.

    PLG (Eq. 3-4) keeps class c when softmax_c(raw cosines) > 1/C, i.e. when c's cosine beats
    a log-mean-exp of all cosines. An absent class stays below that only if the absent
    cosines are nearly equal; a briefly trained contrastive model instead puts look-alike
    classes (same colour) much closer than others. Two terms fix that: class prompts form a
    regular simplex (pairwise cosine -1/(C-1)), and each image's cosines to its absent classes
    have small variance. Real CLIP gets its near-uniform absent similarities from scale.
    """
    c = class_text_emb.shape[0]
    gram = class_text_emb @ class_text_emb.T
    simplex = torch.full_like(gram, -1 / (c - 1)).fill_diagonal_(1)
    absent = (image_emb @ class_text_emb.T)[~F.one_hot(labels, c).bool()].view(-1, c - 1)
    return (SIMPLEX_WEIGHT * ((gram - simplex) ** 2).mean()
            + SPREAD_WEIGHT * absent.var(dim=1, unbiased=False).mean())


def _optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """AdamW with CLIP's settings: weight decay on matrices only; the logit scale stays fixed.

    The token embedding (49408 x width, most of the parameters) stays at its random init: the
    captions use a few dozen tokens, and updating the whole table every step would cost more
    than the rest of the optimiser step.
    """
    model.token_embedding.requires_grad_(False)
    model.logit_scale.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW([{"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.1},
                              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.98), eps=1e-6)


def create_demo_model() -> tuple[torch.nn.Module, object, object]:
    """(model, preprocess, tokenizer) of the untrained demo architecture."""
    open_clip.add_model_config(CONFIG_FILE)
    model, _, preprocess = open_clip.create_model_and_transforms(MODEL_NAME)
    return model, preprocess, open_clip.get_tokenizer(MODEL_NAME)


def _save_checkpoint(model: torch.nn.Module, out_path: Path) -> None:
    """{"state_dict": ...} (what open_clip's load_checkpoint reads), via a temp file and rename."""
    with atomic.replacing(out_path) as tmp:
        torch.save({"state_dict": model.state_dict(), "model_name": MODEL_NAME}, tmp)


def train_demo_clip(out_path: str | Path, n_images: int = 8000, epochs: int = 6, batch_size: int = 64,
                    lr: float = 2e-3, seed: int = 0, prompt_template: str = PROMPTS["P1"],
                    image_size: int = 144) -> dict:
    """Train the demo CLIP and save an open_clip checkpoint atomically.

    image_size is the size synthetic images are rendered at before the model's own resize
    (144 = the centre crop of a 192x144 demo frame). Uses the caller's torch thread setting
    (its cost: docs/results.md, Performance and CI timings). Returns a log: seconds, steps, the loss of every step.
    """
    start = time.perf_counter()
    torch.manual_seed(seed)
    model, _, tokenizer = create_demo_model()
    model.logit_scale.data.fill_(math.log(LOGIT_SCALE))
    images, labels = object_images(n_images, seed, image_size, model_image_size(model))
    templates = _templates(prompt_template)
    # row template * C + class
    tokens = tokenizer([text for t in templates for text in prompt_texts(t, CLASSES)])
    n_classes = len(CLASSES)
    rng = np.random.default_rng([seed, 1])

    optimizer = _optimizer(model, lr)
    batches = math.ceil(n_images / batch_size)
    steps = epochs * batches
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * s / steps))))
    losses = []
    model.train()
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(n_images), batches):
            y = torch.from_numpy(labels[idx])
            caption = torch.from_numpy(rng.integers(len(templates), size=len(idx)) * n_classes) + y
            template = int(rng.integers(len(templates)))
            used, inverse = torch.unique(caption, return_inverse=True)  # encode each caption once
            image_emb = model.encode_image(image_input(model, torch.from_numpy(images[idx])), normalize=True)
            text_emb = model.encode_text(tokens[used], normalize=True)
            class_emb = model.encode_text(tokens[template * n_classes:(template + 1) * n_classes],
                                          normalize=True)
            loss = contrastive_loss(image_emb, text_emb[inverse], y, LOGIT_SCALE) \
                + plg_geometry_loss(image_emb, class_emb, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
    model.eval()
    _save_checkpoint(model, Path(out_path))
    return {"seconds": time.perf_counter() - start, "steps": steps, "losses": losses}


def evaluate_demo_clip(model: torch.nn.Module, tokenizer, n_images: int = 500, seed: int = 0,
                       prompt_template: str = PROMPTS["P1"], tau: float = DEFAULT_TAU,
                       image_size: int = 144) -> dict:
    """Zero-shot quality on fresh synthetic images, through the same encoders and scores as PLG.

    Reports accuracy, the mean PLG score (softmax over raw cosines, Eq. 3) of the true class and
    of the other classes, how often each passes tau, and for clutter-only images how many
    classes pass tau (one always does: the scores average 1/C = tau). The images come from a
    random stream of their own, apart from the training images'.
    """
    rng = np.random.default_rng([seed, 2])
    labels = np.arange(n_images) % len(CLASSES)
    objects = np.stack([render_object_image(int(c), rng, image_size) for c in labels])
    empty = np.stack([render_object_image(None, rng, image_size) for _ in range(max(1, n_images // 5))])
    text = encode_texts(model, tokenizer, prompt_texts(prompt_template, CLASSES))
    scores = segment_scores(encode_images(model, objects), text)
    empty_scores = segment_scores(encode_images(model, empty), text)
    true = np.eye(len(CLASSES), dtype=bool)[labels]
    return {
        "accuracy": float(np.mean(scores.argmax(1) == labels)),
        "mean_score_true": float(scores[true].mean()),
        "mean_score_other": float(scores[~true].mean()),
        "true_above_tau": float(np.mean(scores[true] > tau)),
        "other_above_tau": float(np.mean(scores[~true] > tau)),
        "empty_classes_above_tau": float(np.mean(empty_scores > tau)),
        "empty_any_above_tau": float(np.mean((empty_scores > tau).any(1))),
    }
