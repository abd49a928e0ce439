"""Trainer for any parser family with the loss of any row (docs/method.md): all seeds of a row at once.

The seeds of a run train as one SeedBatch (models/seed_batch.py): one batched forward and
backward per step for all of them, while each seed keeps its own initialisation, data order,
dropout noise, model selection on val and history, so each seed ends where a run of it alone
would. All features go to the device once and batches are gathered there by index: no
per-video file reads and no DataLoader, which is what bounds the reference loop
(platform.md); losses stay on the device until the end of the epoch. Only what the family
reads stays there (training/resident.py), and a step is one function that train.compile compiles
whole (training/step.py). Rows are configurations (vplan_core.method.ablation); the same code runs
on CPU and CUDA.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vplan_core.data.dataset import Tensors, TrainingSet, ValidationSet
from vplan_core.evaluation.protocols import PROTOCOLS
from vplan_core.models import family
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.training import resume
from vplan_core.training.prediction import predict_split, seed_predictions
from vplan_core.training.resident import Resident
from vplan_core.training.state import TrainingState
from vplan_core.training.schedule import new_scheduler
from vplan_core.training.settings import TrainConfig
from vplan_core.training.step import Step, new_optimizer


@dataclass
class SeedResult:
    seed: int
    model: nn.Module  # the best epoch's weights, on CPU, eval mode
    best_epoch: int
    best_score: float  # the protocol's selection score on val at best_epoch (LLP: segment-level Type@AV)
    history: list[dict]
    seconds: float  # the training's wall time, a killed attempt's included (the same for every seed)


def stream_seed(seed: int, stream: str) -> int:
    """The seed of one random stream of a training seed, apart from its other streams."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{stream}".encode()).digest()[:8], "little") >> 1


def model_kwargs(config: TrainConfig, inputs: Tensors, num_classes: int) -> dict:
    """The constructor arguments of config.model: sized by the feature tensors, then what its
    builder takes from the training settings, then models.<family>.kwargs."""
    audio, visual_2d, visual_3d = inputs
    kwargs = dict(audio_dim=audio.shape[-1], visual_2d_dim=visual_2d.shape[-1], visual_3d_dim=visual_3d.shape[-1],
                  num_classes=num_classes, frames_per_segment=visual_2d.shape[1] // visual_3d.shape[1],
                  standardize_inputs=config.standardize_inputs)
    return {**kwargs, **family(config.model).build_kwargs(config), **config.model_kwargs}


def initial_model(config: TrainConfig, inputs: Tensors, num_classes: int, seed: int) -> nn.Module:
    """The parser sized by the feature tensors (the frames, not their means: they give
    frames_per_segment and the input statistics), initialised from `seed` alone (the global
    generator is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = family(config.model).build(**model_kwargs(config, inputs, num_classes))
    if config.standardize_inputs:
        model.fit_input_statistics(*(x.cpu() for x in inputs))
    return model


def train_one_epoch(step: Step, config: TrainConfig, order_generators: list[torch.Generator],
                    noise_generators: list[torch.Generator], epoch: int) -> list[float]:
    """One pass of `step` over its data, each seed in its own random order; returns each seed's
    mean batch loss. Nothing waits for the device until the end of the epoch, where a non-finite
    loss raises RuntimeError naming the first bad epoch, batch and seed.
    """
    inputs, video_labels = step.data[0], step.data[1]
    n, device = video_labels.shape[0], video_labels.device
    orders = torch.stack([torch.randperm(n, generator=g) for g in order_generators]).to(device)
    losses = []
    for start in range(0, n, config.batch_size):
        idx = orders[:, start:start + config.batch_size]  # [S, B]
        size = step.batch.noise_size(idx.shape[1], inputs[2].shape[1])
        noise = (torch.stack([torch.rand(size, generator=g, device=device) for g in noise_generators])
                 if size else None)
        losses.append(step(idx, noise))
    losses_t = torch.stack(losses)  # [steps, S]
    finite = torch.isfinite(losses_t)
    if not bool(finite.all()):
        bad, seed = (int(i) for i in (~finite).nonzero()[0])
        raise RuntimeError(f"non-finite training loss at epoch {epoch}, batch {bad + 1} (of {len(losses)}; "
                           f"loss {config.loss.kind!r}; seed {config.seeds[seed]})")
    return losses_t.mean(dim=0).tolist()


def evaluate_seeds(batch: SeedBatch, val_set: ValidationSet, upload) -> list[dict]:
    """Every seed's metrics on the validation set, by the data set's protocol (LLP's: the
    gated 0.5-threshold predictions, metric.md §3); upload: Features -> device tensors."""
    protocol = PROTOCOLS[val_set.metric]
    pred = predict_split(batch, val_set.features, upload, modality_probs=protocol.modality_probs)
    return [protocol.score(seed_predictions(pred, s), val_set.gt_audio, val_set.gt_visual)
            for s in range(batch.num_seeds)]


def _per_seed_labels(labels: np.ndarray, n_seeds: int, device: torch.device) -> torch.Tensor:
    """[S, N, T, C]: one label set for all seeds ([N, T, C], copied per seed so that rows 2-4 and
    row 5 give the compiled step the same strides) or one set per seed."""
    tensor = torch.as_tensor(np.asarray(labels, dtype=np.float32), device=device)
    if tensor.ndim == 3:
        return tensor.expand(n_seeds, *tensor.shape).contiguous()
    if tensor.ndim != 4 or tensor.shape[0] != n_seeds:
        raise ValueError(f"segment labels of shape {tuple(tensor.shape)} for {n_seeds} seeds; "
                         "expected [N, T, C] or [S, N, T, C]")
    return tensor


def train(config: TrainConfig, train_set: TrainingSet, val_set: ValidationSet,
          log: Callable[[str], None] = print, resume_path: str | Path | None = None,
          resident: Resident | None = None) -> list[SeedResult]:
    """config's optimiser and schedule (default Adam + StepLR) for every seed of config.seeds
    (with grad_clip, each seed's gradients clipped by its own norm); each seed keeps the epoch
    with its best val selection score (the data set's protocol, evaluation/protocols.py: LLP's
    segment-level Type@AV; ties: the later, as the reference's ``>=``).

    resume_path: the whole training state is saved there atomically after every epoch; when
    the file exists at the start (same settings and data), training continues after its epoch
    (its epochs' log lines logged again, its clock going on from their seconds) and ends where
    an uninterrupted run ends (CPU; bitwise).

    resident: the device copies of the features to use (a chain's, shared by its runs so that
    each split is uploaded once); by default this run uploads its own.
    """
    run_started = time.perf_counter()
    if config.loss.needs_segment_labels and train_set.segment_labels is None:
        raise ValueError(f"loss {config.loss.kind!r} needs segment pseudo labels")
    if config.loss.needs_audio_labels and train_set.audio_segment_labels is None:
        raise ValueError(f"loss {config.loss.kind!r} needs audio segment pseudo labels")
    if config.loss.needs_modality_labels and train_set.modality_labels is None:
        raise ValueError(f"loss {config.loss.kind!r} needs each modality's video-level labels, which this data "
                         "set does not have")
    device = torch.device(config.device)
    n_seeds = len(config.seeds)
    resident = resident or Resident(device)
    frame_means = family(config.model).frame_means
    inputs = resident(train_set.features, frame_means)
    y = torch.as_tensor(np.asarray(train_set.video_labels, dtype=np.float32), device=device)
    seg = _per_seed_labels(train_set.segment_labels, n_seeds, device) if config.loss.needs_segment_labels else None
    audio_seg = (_per_seed_labels(train_set.audio_segment_labels, n_seeds, device)
                 if config.loss.needs_audio_labels else None)
    modality_y = (torch.as_tensor(np.asarray(train_set.modality_labels, dtype=np.float32), device=device)
                  if config.loss.needs_modality_labels else None)
    upload_val = lambda features: resident(features, frame_means)  # noqa: E731
    protocol = PROTOCOLS[val_set.metric]

    frames = train_set.features.to_tensors("cpu")  # views of the arrays, no copy
    batch = SeedBatch([initial_model(config, frames, y.shape[-1], seed) for seed in config.seeds]).to(device)
    optimizer = new_optimizer(batch, config)
    scheduler = new_scheduler(optimizer, config)
    order_generators = [torch.Generator().manual_seed(seed) for seed in config.seeds]
    noise_generators = [torch.Generator(device).manual_seed(stream_seed(seed, "dropout")) for seed in config.seeds]
    state = TrainingState(batch, optimizer, scheduler, order_generators + noise_generators)
    if resume_path is not None:
        expected = resume.fingerprint(config, train_set, val_set)
        resume.restore(resume_path, expected, state, device, log, config.epochs)
        run_started -= state.seconds  # the clock goes on from the stopped attempts' time
    step = Step(batch, optimizer, inputs, y, seg, audio_seg, config, modality_y)  # after a restore: it may set the lr

    for epoch in range(state.epoch + 1, config.epochs + 1):
        started = time.perf_counter()
        lr = float(optimizer.param_groups[0]["lr"])  # a tensor for a compiled step
        train_losses = train_one_epoch(step, config, order_generators, noise_generators, epoch)
        scheduler.step()
        metrics = evaluate_seeds(batch, val_set, upload_val)
        seconds = time.perf_counter() - started
        selection = [protocol.selection_score(m) for m in metrics]
        improved = state.record(epoch, [{"epoch": epoch, "train_loss": loss, "lr": lr, "val_metrics": m, "seconds": seconds}
                                        for loss, m in zip(train_losses, metrics)], selection)
        scores = " ".join(f"{score:.2f}{'*' if s in improved else ''}" for s, score in enumerate(selection))
        line = (f"epoch {epoch}/{config.epochs} loss {' '.join(f'{v:.4f}' for v in train_losses)} "
                f"lr {lr:.1e} val {protocol.selection_title} {scores} ({seconds:.1f} s)")
        state.lines.append(line)
        state.seconds = time.perf_counter() - run_started
        if resume_path is not None:
            resume.save(resume_path, expected, state)
        log(line)

    return [SeedResult(seed=seed, model=batch.model(s, state.best_state), best_epoch=state.best_epochs[s],
                       best_score=state.best_scores[s], history=state.histories[s],
                       seconds=time.perf_counter() - run_started)
            for s, seed in enumerate(config.seeds)]
