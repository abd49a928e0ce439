"""Trainer for HAN with the losses of rows ①-⑤ (docs/method.md), prediction and checkpoints.

All features go to the device once as tensors and batches are gathered there by index: no
per-video file reads and no DataLoader, which is what bounds the reference loop (platform.md).
Rows are configurations: ① loss="han", ② "plg", ③ "plg_segbce", ④ "plg_rl", ⑤ "plg_rl" trained
on PLD-refined segment labels. The same code runs on CPU and CUDA.
"""
from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from vplan_core import atomic
from vplan_core.losses import DISTANCES, LOSS_KINDS, LossConfig, compute_loss
from vplan_core.metrics import avvp_metrics, binarize
from vplan_core.models import HAN

Tensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
ArrayLike = np.ndarray | torch.Tensor


@dataclass
class TrainConfig:
    """One training run. Defaults: method.md "Training defaults" and Eq. 2/9."""

    loss: str = "plg_rl"
    epochs: int = 30
    batch_size: int = 32
    lr: float = 3.0e-4
    lr_step: int = 10
    lr_gamma: float = 0.1
    rl_lambda: float = 0.5
    rl_distance: str = "bce"
    rl_eps: float = 1.0e-6
    smoothing_audio: float = 1.0
    smoothing_visual: float = 0.9
    seed: int = 0
    device: str = "cpu"
    d_model: int = 512  # the feed-forward width follows it (both 512 in the reference)
    dropout: float = 0.1
    standardize_inputs: bool = False  # see HAN: for random-weight backbones (the demo)

    def __post_init__(self) -> None:
        if self.loss not in LOSS_KINDS:
            raise ValueError(f"unknown loss {self.loss!r}; expected one of {LOSS_KINDS}")
        if self.rl_distance not in DISTANCES:
            raise ValueError(f"unknown rl_distance {self.rl_distance!r}; expected one of {DISTANCES}")

    def loss_config(self) -> LossConfig:
        return LossConfig(rl_lambda=self.rl_lambda, rl_distance=self.rl_distance,
                          rl_eps=self.rl_eps, smoothing_audio=self.smoothing_audio,
                          smoothing_visual=self.smoothing_visual)


@dataclass
class Features:
    """HAN inputs of one split, row order = video_ids: audio [N,10,A], visual_2d [N,80,D2],
    visual_3d [N,10,D3] (float32 numpy)."""

    video_ids: list[str]
    audio: np.ndarray
    visual_2d: np.ndarray
    visual_3d: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.video_ids)
        for name in ("audio", "visual_2d", "visual_3d"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"{name} has {getattr(self, name).shape[0]} rows for {n} videos")

    def to_tensors(self, device: str | torch.device) -> Tensors:
        return tuple(torch.as_tensor(np.asarray(a, dtype=np.float32)).to(device)
                     for a in (self.audio, self.visual_2d, self.visual_3d))


@dataclass
class TrainResult:
    model: HAN  # the best epoch's weights, on CPU, eval mode
    best_epoch: int
    best_score: float  # val segment-level Type@AV of best_epoch
    history: list[dict] = field(default_factory=list)


def build_model(config: TrainConfig, audio: ArrayLike, visual_2d: ArrayLike, visual_3d: ArrayLike,
                num_classes: int) -> HAN:
    """HAN sized by the feature arrays (numpy or torch; the demo uses smaller backbones)."""
    return HAN(
        audio_dim=audio.shape[-1],
        visual_2d_dim=visual_2d.shape[-1],
        visual_3d_dim=visual_3d.shape[-1],
        d_model=config.d_model,
        num_classes=num_classes,
        frames_per_segment=visual_2d.shape[1] // visual_3d.shape[1],
        dim_feedforward=config.d_model,
        dropout=config.dropout,
        standardize_inputs=config.standardize_inputs,
    )


def train_one_epoch(
    model: HAN,
    optimizer: torch.optim.Optimizer,
    inputs: Tensors,
    video_labels: torch.Tensor,
    segment_labels: torch.Tensor | None,
    config: TrainConfig,
    generator: torch.Generator,
    epoch: int,
) -> float:
    """One pass in a seeded random order; returns the mean batch loss.

    Losses stay on the device and are checked once at the end of the epoch (no per-step sync);
    a non-finite loss raises RuntimeError naming the first bad epoch and batch.
    """
    model.train()
    loss_cfg = config.loss_config()
    n = video_labels.shape[0]
    order = torch.randperm(n, generator=generator).to(video_labels.device)
    losses = []
    for start in range(0, n, config.batch_size):
        idx = order[start:start + config.batch_size]
        outputs = model(*(x[idx] for x in inputs))
        seg = None if segment_labels is None else segment_labels[idx]
        loss = compute_loss(config.loss, outputs, video_labels[idx], seg, loss_cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    losses_t = torch.stack(losses)
    finite = torch.isfinite(losses_t)
    if not bool(finite.all()):
        batch = int((~finite).nonzero()[0, 0]) + 1
        raise RuntimeError(f"non-finite training loss at epoch {epoch}, batch {batch} "
                           f"(of {len(losses)}; loss {config.loss!r})")
    return float(losses_t.mean())


@torch.inference_mode()
def _predict_tensors(model: HAN, inputs: Tensors, batch_size: int) -> dict[str, np.ndarray]:
    model.eval()
    chunks: list[tuple[torch.Tensor, torch.Tensor]] = []
    n = inputs[0].shape[0]
    for start in range(0, n, batch_size):
        video_prob, _, _, frame_prob = model(*(x[start:start + batch_size] for x in inputs))
        chunks.append((video_prob, frame_prob))
    video_prob = torch.cat([c[0] for c in chunks]).float().cpu().numpy()
    frame_prob = torch.cat([c[1] for c in chunks]).float().cpu().numpy()
    return {"video_prob": video_prob, "audio_prob": np.ascontiguousarray(frame_prob[:, :, 0]),
            "visual_prob": np.ascontiguousarray(frame_prob[:, :, 1])}


def predict(model: HAN, features: Features, device: str = "cpu", batch_size: int = 256) -> dict[str, np.ndarray]:
    """video_prob [N,C], audio_prob [N,T,C], visual_prob [N,T,C], float32 numpy (moves model
    to device)."""
    model.to(device)
    return _predict_tensors(model, features.to_tensors(device), batch_size)


def evaluate(model: HAN, inputs: Tensors, gt_audio: np.ndarray, gt_visual: np.ndarray) -> dict:
    """avvp_metrics of the gated 0.5-threshold predictions (metric.md §3)."""
    pred = _predict_tensors(model, inputs, batch_size=256)
    so_a, so_v = binarize(pred["audio_prob"], pred["visual_prob"], pred["video_prob"])
    return avvp_metrics(gt_audio, gt_visual, so_a, so_v)


def train(
    config: TrainConfig,
    train_features: Features,
    video_labels: np.ndarray,
    segment_labels: np.ndarray | None,
    val_features: Features,
    val_gt_audio: np.ndarray,
    val_gt_visual: np.ndarray,
    checkpoint_path: str | Path | None = None,
    log: Callable[[str], None] = print,
    resume_path: str | Path | None = None,
) -> TrainResult:
    """Adam + StepLR; keeps the epoch with the best val segment-level Type@AV (ties: the later,
    as the reference's ``>=``). Saves that epoch to checkpoint_path whenever it improves.

    resume_path: the whole training state (model, optimizer, scheduler, random generators,
    history, best epoch) is saved there atomically after every epoch; when the file exists at
    the start, training continues after its epoch, and the result equals that of an
    uninterrupted run (CPU; bitwise). A state written for other settings (device and epochs
    aside) or other data is ignored, with a log line, and training starts from epoch 1.
    """
    if config.loss != "han" and segment_labels is None:
        raise ValueError(f"loss {config.loss!r} needs segment pseudo labels")
    device = torch.device(config.device)
    inputs = train_features.to_tensors(device)
    torch.manual_seed(config.seed)
    model = build_model(config, *inputs, num_classes=video_labels.shape[1]).to(device)
    if config.standardize_inputs:
        model.fit_input_statistics(*inputs)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step, gamma=config.lr_gamma)
    generator = torch.Generator().manual_seed(config.seed)

    val_inputs = val_features.to_tensors(device)
    y = torch.as_tensor(np.asarray(video_labels, dtype=np.float32), device=device)
    seg = (None if config.loss == "han"
           else torch.as_tensor(np.asarray(segment_labels, dtype=np.float32), device=device))

    best_score, best_epoch, best_state = -float("inf"), 0, None
    history: list[dict] = []
    first_epoch = 1
    fingerprint = (_fingerprint(config, train_features, video_labels, segment_labels, val_features,
                                val_gt_audio, val_gt_visual) if resume_path is not None else None)
    if resume_path is not None and Path(resume_path).is_file():
        state = torch.load(resume_path, map_location=device, weights_only=True)
        if state.get("fingerprint") != fingerprint:
            log(f"{resume_path}: saved for other settings or data; training from epoch 1")
        else:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            if device.type == "cuda" and state["cuda_rng"] is not None:
                torch.cuda.set_rng_state(state["cuda_rng"], device)
            best_score, best_epoch, best_state = state["best_score"], state["best_epoch"], state["best_state"]
            history = list(state["history"])
            first_epoch = state["epoch"] + 1
            log(f"resuming after epoch {state['epoch']} from {resume_path}")
    for epoch in range(first_epoch, config.epochs + 1):
        started = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        train_loss = train_one_epoch(model, optimizer, inputs, y, seg, config, generator, epoch)
        scheduler.step()
        metrics = evaluate(model, val_inputs, val_gt_audio, val_gt_visual)
        score = metrics["segment_level"]["type_at_av"]
        seconds = time.perf_counter() - started
        history.append({"epoch": epoch, "train_loss": train_loss, "lr": lr,
                        "val_metrics": metrics, "seconds": seconds})
        improved = score >= best_score
        if improved:
            best_score, best_epoch = score, epoch
            best_state = copy.deepcopy(model.state_dict())
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, model, config,
                                {"best_epoch": epoch, "best_val_type_at_av": score})
        if resume_path is not None:
            _save_training_state(resume_path, {
                "fingerprint": fingerprint, "epoch": epoch, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                "best_score": best_score, "best_epoch": best_epoch, "best_state": best_state,
                "history": history})
        log(f"epoch {epoch}/{config.epochs} loss {train_loss:.4f} lr {lr:.1e} "
            f"val Type@AV {score:.2f}{' *' if improved else ''} ({seconds:.1f} s)")

    model.load_state_dict(best_state)
    return TrainResult(model=model.cpu().eval(), best_epoch=best_epoch,
                       best_score=best_score, history=history)


def _fingerprint(config: TrainConfig, train_features: Features, video_labels: np.ndarray,
                 segment_labels: np.ndarray | None, val_features: Features,
                 val_gt_audio: np.ndarray, val_gt_visual: np.ndarray) -> dict:
    """What a resumed run must share with the stopped one: the settings (device and epochs
    may differ) and the data (ids and labels hashed; features by shape, float64 sum and a hash
    of up to 64 evenly spaced videos: one pass and no copy of gigabytes of features)."""
    settings = {k: v for k, v in asdict(config).items() if k not in ("device", "epochs")}
    digest = hashlib.sha256()
    for ids in (train_features.video_ids, val_features.video_ids):
        digest.update("\n".join(ids).encode() + b"\0")
    for array in (video_labels, segment_labels, val_gt_audio, val_gt_visual):
        if array is not None:
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode() + array.tobytes())
    features = []
    for f in (train_features, val_features):
        for a in (f.audio, f.visual_2d, f.visual_3d):
            sample = np.ascontiguousarray(a[::max(1, len(a) // 64)])
            features.append([list(a.shape), float(np.sum(a, dtype=np.float64)),
                             hashlib.sha256(sample.tobytes()).hexdigest()])
    return {"format": 1, "settings": settings, "labels_sha256": digest.hexdigest(), "features": features}


def _save_training_state(path: str | Path, state: dict) -> None:
    with atomic.replacing(Path(path), ".tmp") as tmp:
        torch.save(state, tmp)


def save_checkpoint(path: str | Path, model: HAN, config: TrainConfig, extra: dict) -> None:
    """Atomic (tmp file beside, then os.replace). extra must hold plain Python values, so the
    file loads with torch.load(weights_only=True)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_kwargs": dict(model.init_kwargs),
        "train_config": asdict(config),
        "extra": extra,
    }
    with atomic.replacing(path, ".tmp") as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[HAN, dict]:
    """(model in eval mode on device, the whole payload)."""
    payload = torch.load(path, map_location=device, weights_only=True)
    model = HAN(**payload["model_kwargs"])
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval(), payload
