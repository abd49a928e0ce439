"""Train the demo CLAP: a small transformers ClapModel that knows the 25 demo sounds.

No pretrained CLAP weights can be fetched here, so the demo workflow trains its own, like its
CLIP: from synthetic one-second windows made of the demo world's class sounds
(sound.class_sound), never from demo clips or their labels, so audio PLG gets its knowledge of
sounds from outside the data set, as with real CLAP. A window mixes one to three classes at
random gains, each over a random part of the second (with fade in/out), on the demo's
background noise; some windows are noise only. The network is ClapModel with a tiny config
(DEMO_CONFIG: a two-stage HTSAT with fusion layers, as VALOR's fused CLAP, and a one-layer
RoBERTa), fed exactly what encode_audio_windows feeds it (features.clap.model_input). Its
tokenizer is a byte-level BPE trained here on the prompt vocabulary, saved as vocab.json +
merges.txt (roberta-base's files). The output is a transformers ClapModel folder (config.json,
model.safetensors, tokenizer files): features.clap.load_clap loads it like laion/clap-htsat-fused.

Loss: a multi-positive contrastive loss between windows and the class prompts (every class
in the window is a match), plus clip_training's two geometry terms, which give the raw cosines
the near-uniform absent-class similarities that the softmax-tau rule (tau = 1/C) relies on.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from vplan_core import atomic
from vplan_core.data.description import LLP

CLASSES = LLP.classes  # the demo world is a miniature LLP
from vplan_core.demo import sound
from vplan_core.features import clap
from vplan_core.method.plg import (AUDIO_PROMPT, DEFAULT_TAU, PROMPTS, prompt_texts,
                                   pseudo_labels, segment_scores)

LOGIT_SCALE = 5.0  # fixed, as the demo CLIP's
SIMPLEX_WEIGHT = 10.0
SPREAD_WEIGHT = 10.0
WINDOW_SAMPLES = clap.AUDIO_RATE  # a demo clip's window: 10 s / 10 at 48 kHz
N_CLASSES_P = (0.1, 0.5, 0.3, 0.1)  # 0 (noise only), 1, 2, 3 classes in a training window
GAIN_RANGE = (0.3, 1.0)  # times sound.EVENT_RMS: quieter than the clips' 0.6-1.0 too
MIN_PART = 0.2  # shortest share of the window a sound fills
TOKENIZER_VOCAB = 400
DEMO_CONFIG = {
    "model_type": "clap", "projection_dim": 32, "logit_scale_init_value": LOGIT_SCALE,
    "text_config": {"vocab_size": TOKENIZER_VOCAB, "hidden_size": 32, "num_hidden_layers": 1,
                    "num_attention_heads": 2, "intermediate_size": 64,
                    "max_position_embeddings": clap.TEXT_MAX_LENGTH + 3, "type_vocab_size": 1,
                    "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
                    "projection_dim": 32, "projection_hidden_act": "relu"},
    "audio_config": {"spec_size": 256, "patch_size": 8, "patch_stride": [8, 8],
                     "patch_embeds_hidden_size": 16, "depths": [1, 1], "num_attention_heads": [1, 2],
                     "window_size": 8, "hidden_size": 32, "num_mel_bins": clap.MEL_BINS,
                     "enable_fusion": True, "fusion_type": "aff_2d", "projection_dim": 32,
                     "projection_hidden_act": "relu", "num_classes": 527},
}


def _templates(prompt_template: str) -> list[str]:
    """The configured prompt, VALOR's audio prompt and P1-P4, without repeats."""
    return list(dict.fromkeys([PROMPTS.get(prompt_template, prompt_template), AUDIO_PROMPT,
                               *PROMPTS.values()]))


def build_tokenizer(folder: str | Path, texts: list[str], vocab_size: int = TOKENIZER_VOCAB) -> None:
    """A byte-level BPE on `texts` with RoBERTa's special tokens (<s>=0, <pad>=1, </s>=2,
    <unk>=3, <mask>=4), saved as vocab.json + merges.txt."""
    from tokenizers import ByteLevelBPETokenizer

    tokenizer = ByteLevelBPETokenizer()
    tokenizer.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=1, show_progress=False,
                                  special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    Path(folder).mkdir(parents=True, exist_ok=True)
    tokenizer.save_model(str(folder))


def training_windows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(float32 [n, WINDOW_SAMPLES] windows, bool [n, C] classes present), from the demo world's
    class sounds; every class leads equally often."""
    rng = np.random.default_rng([seed, 0])
    n_classes = len(CLASSES)
    waves = np.empty((n, WINDOW_SAMPLES), np.float32)
    present = np.zeros((n, n_classes), bool)
    ramp = int(sound.RAMP_S * clap.AUDIO_RATE)
    for i in range(n):
        wave = sound.NOISE_RMS * rng.standard_normal(WINDOW_SAMPLES)
        k = int(rng.choice(len(N_CLASSES_P), p=N_CLASSES_P))
        others = rng.permutation([c for c in range(n_classes) if c != i % n_classes])
        for c in ([i % n_classes, *others[:k - 1]] if k else []):
            length = int(rng.integers(int(MIN_PART * WINDOW_SAMPLES), WINDOW_SAMPLES + 1))
            start = int(rng.integers(0, WINDOW_SAMPLES - length + 1))
            env = np.ones(length)
            env[:ramp], env[-ramp:] = np.linspace(0, 1, ramp), np.linspace(1, 0, ramp)
            gain = sound.EVENT_RMS * rng.uniform(*GAIN_RANGE)
            wave[start:start + length] += gain * env * sound.class_sound(c, length, clap.AUDIO_RATE, rng)
            present[i, c] = True
        waves[i] = np.clip(wave, -1, 1)
    return waves, present


def create_demo_model(tokenizer_dir: str | Path):
    """The untrained demo ClapModel (its vocabulary size from the tokenizer in tokenizer_dir)."""
    from transformers import ClapConfig, ClapModel

    tokenizer = clap.load_tokenizer(tokenizer_dir)
    config = ClapConfig.from_dict({**DEMO_CONFIG, "text_config": {**DEMO_CONFIG["text_config"],
                                                                  "vocab_size": len(tokenizer)}})
    model = ClapModel(config)
    with torch.no_grad():
        model.logit_scale_a.fill_(math.log(LOGIT_SCALE))
        model.logit_scale_t.fill_(math.log(LOGIT_SCALE))
    return model, tokenizer


def multi_positive_loss(audio_emb: torch.Tensor, text_emb: torch.Tensor, present: torch.Tensor
                        ) -> torch.Tensor:
    """Symmetric InfoNCE between windows and class prompts, every present class a match (and,
    for a class, every window holding it). Windows and classes without any match are left out."""
    logits = LOGIT_SCALE * audio_emb @ text_emb.T

    def nll(lg: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
        rows = positive.any(1)
        lg, positive = lg[rows], positive[rows]
        return (torch.logsumexp(lg, 1) - torch.logsumexp(lg.masked_fill(~positive, -math.inf), 1)).mean()

    return (nll(logits, present) + nll(logits.T, present.T)) / 2


def geometry_loss(audio_emb: torch.Tensor, text_emb: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """clip_training.plg_geometry_loss for several classes a window: prompts on a regular simplex,
    and small variance of each window's cosines to its absent classes."""
    c = text_emb.shape[0]
    gram = text_emb @ text_emb.T
    simplex = torch.full_like(gram, -1 / (c - 1)).fill_diagonal_(1)
    cos = audio_emb @ text_emb.T
    absent = (~present).float()
    n = absent.sum(1)
    mean = (cos * absent).sum(1) / n
    var = (((cos - mean[:, None]) ** 2) * absent).sum(1) / n
    return SIMPLEX_WEIGHT * ((gram - simplex) ** 2).mean() + SPREAD_WEIGHT * var.mean()


def _optimizer(model, lr: float) -> torch.optim.Optimizer:
    model.logit_scale_a.requires_grad_(False)
    model.logit_scale_t.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW([{"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.05},
                              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.98), eps=1e-6)


def _save(model, tokenizer_dir: Path, out_dir: Path) -> None:
    """A transformers ClapModel folder, written beside out_dir, synced and renamed into place."""
    import shutil
    import tempfile

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would hide the model from a cluster group
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        for name in ("vocab.json", "merges.txt"):
            shutil.copyfile(tokenizer_dir / name, tmp / name)
        atomic.sync_tree(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
        atomic.sync(out_dir.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def train_demo_clap(out_path: str | Path, n_examples: int = 1500, epochs: int = 2, batch_size: int = 32,
                    lr: float = 3e-3, seed: int = 0, prompt_template: str = AUDIO_PROMPT) -> dict:
    """Train the demo CLAP and write a transformers ClapModel folder at out_path.

    Uses the caller's torch thread setting. Its defaults (1500 windows, 2 epochs) took 60 s on one
    thread and gave audio PLG a segment F of 71.8 / 70.2 on 100 demo test clips (seeds 0 / 1;
    commit b5015c3).
    Returns a log: seconds, steps, the loss of every step.
    """
    start = time.perf_counter()
    torch.manual_seed(seed)
    out_dir = Path(out_path)
    templates = _templates(prompt_template)
    all_texts = [text for t in templates for text in prompt_texts(t, CLASSES)]
    work = Path(atomic._tmp_beside(out_dir, ".tokenizer"))
    work.unlink()
    try:
        build_tokenizer(work, all_texts)
        model, tokenizer = create_demo_model(work)
        fusion = clap.is_fused(model)
        waves, present = training_windows(n_examples, seed)
        tokens = tokenizer(all_texts, padding=True, return_tensors="pt")
        n_classes = len(CLASSES)
        rng = np.random.default_rng([seed, 1])
        optimizer = _optimizer(model, lr)
        batches = math.ceil(n_examples / batch_size)
        steps = epochs * batches
        warmup = max(1, steps // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * s / steps))))
        losses = []
        model.train()
        for _ in range(epochs):
            for idx in np.array_split(rng.permutation(n_examples), batches):
                template = int(rng.integers(len(templates)))
                rows = slice(template * n_classes, (template + 1) * n_classes)
                with torch.no_grad():
                    inputs = clap.model_input(torch.from_numpy(waves[idx]), fusion)
                audio = model.get_audio_features(**inputs).pooler_output
                text = model.get_text_features(input_ids=tokens["input_ids"][rows],
                                               attention_mask=tokens["attention_mask"][rows]).pooler_output
                y = torch.from_numpy(present[idx])
                loss = multi_positive_loss(audio, text, y) + geometry_loss(audio, text, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                losses.append(loss.item())
        model.eval()
        _save(model, work, out_dir)
    finally:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    return {"seconds": time.perf_counter() - start, "steps": steps, "losses": losses}


def audio_truth(scenario: dict) -> np.ndarray:
    """uint8 [10, C]: the classes sounding in each second of a demo clip (its dense audio label)."""
    truth = np.zeros((clap.SEGMENTS, len(CLASSES)), np.uint8)
    for event in scenario["events"]:
        if event["audio"] is not None:
            a, b = event["audio"]
            truth[a:b, CLASSES.index(event["class"])] = 1
    return truth


def _f1(tp: float, fp: float, fn: float) -> float:
    return 2 * tp / max(2 * tp + fp + fn, 1)


def label_quality(labels: np.ndarray, truth: np.ndarray, video_labels: np.ndarray) -> dict:
    """Precision/recall/F (%) of segment labels [N, T, C] against the audio truth [N, T, C], at
    video level (max over T) and segment level, and the video label used as the audio label."""
    def prf(pred: np.ndarray, true: np.ndarray) -> tuple[float, float, float]:
        tp, fp, fn = (pred & true).sum(), (pred & ~true).sum(), (~pred & true).sum()
        return (100 * tp / max(tp + fp, 1), 100 * tp / max(tp + fn, 1), 100 * _f1(tp, fp, fn))

    labels, truth = labels.astype(bool), truth.astype(bool)
    video = prf(labels.any(1), truth.any(1))
    segment = prf(labels, truth)
    baseline = prf(video_labels.astype(bool), truth.any(1))
    baseline_segment = prf(np.repeat(video_labels.astype(bool)[:, None], clap.SEGMENTS, 1), truth)
    return {"video_precision": video[0], "video_recall": video[1], "video_f": video[2],
            "segment_precision": segment[0], "segment_recall": segment[1], "segment_f": segment[2],
            "video_label_precision": baseline[0], "video_label_segment_f": baseline_segment[2]}


def demo_world_audio(n_videos: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(windows float32 [n, 10, 48000], audio truth uint8 [n, 10, C], video labels uint8 [n, C])
    of the first n_videos test scenarios of make_scenarios(seed): the demo clips' soundtracks at
    48 kHz, for measuring audio PLG (the demo CLAP never trains on them)."""
    from vplan_core.demo.scenarios import make_scenarios

    scenarios = [s for s in make_scenarios(0, 0, n_videos, seed=seed)]
    windows = np.stack([clap.audio_windows(sound.render_audio(s, clap.AUDIO_RATE)) for s in scenarios])
    truth = np.stack([audio_truth(s) for s in scenarios])
    labels = np.zeros((len(scenarios), len(CLASSES)), np.uint8)
    for i, s in enumerate(scenarios):
        for event in s["events"]:
            labels[i, CLASSES.index(event["class"])] = 1
    return windows, truth, labels


def evaluate_demo_clap(model, tokenizer, n_videos: int = 100, seed: int = 0, tau: float = DEFAULT_TAU,
                       prompt_template: str = AUDIO_PROMPT, batch_size: int = 64) -> dict:
    """Audio PLG with this CLAP on demo clips (softmax-tau rule, masked by the video label)
    against their dense audio truth; also the seconds the window encoding took."""
    windows, truth, video_labels = demo_world_audio(n_videos, seed)
    start = time.perf_counter()
    audio = clap.encode_audio_windows(model, windows, batch_size=batch_size)
    seconds = time.perf_counter() - start
    text = clap.encode_texts(model, tokenizer, prompt_texts(prompt_template, CLASSES))
    labels = pseudo_labels(segment_scores(audio, text), video_labels, tau)
    return {**label_quality(labels, truth, video_labels), "encode_seconds": seconds,
            "n_videos": n_videos}
