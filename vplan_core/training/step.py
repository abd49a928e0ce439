"""One training step of a seed batch (forward, loss, backward, clipping, Adam/AdamW update), eager or compiled whole.

A step's arithmetic is tiny; launching its kernels is what costs (a HAN step is some 600 small
kernels, MGN's and MM-Pyramid's 2,000-3,000). With train.compile the whole step goes through
torch.compile: on CUDA in reduce-overhead mode, which replays it as CUDA graphs, with Adam fused
and capturable (its step counts stay on the device, so a graph can hold the update); on CPU plain
inductor. Dynamo breaks the graph at backward(), so a step is three compiled graphs: the forward
with the loss, its backward (AOTAutograd's) and the clipping with the update. The lr of a compiled
step is a tensor that the schedule (training/schedule.py) fills in place: a new rate is read by the
same graphs, not recompiled.

Shapes are static: every full batch runs the compiled step, and the last, partial batch of an
epoch runs the same step eagerly on the same optimizer. Each seed so sees exactly its own videos
and the noise of its own batch size. Padding that batch instead would need a mask through every
mean of every loss (MGN's class-token terms included) and noise drawn for the padding, while one
eager step an epoch is a few hundredths of a LLP epoch and compiles nothing more.
"""
from __future__ import annotations

import types
from collections.abc import Callable

import torch

from vplan_core.data.dataset import Tensors
from vplan_core.method.losses import LossConfig, compute_loss
from vplan_core.models import family, loss_outputs
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.training.settings import TrainConfig


def seed_losses(outputs, video_labels: torch.Tensor, segment_labels: torch.Tensor | None,
                cfg: LossConfig, extra_loss: Callable | None = None,
                audio_labels: torch.Tensor | None = None, model: torch.nn.Module | None = None,
                modality_labels: torch.Tensor | None = None) -> torch.Tensor:
    """[S] losses, each seed's from its own outputs and labels ([S, B, ...] each): the row's
    loss on the common outputs, their frame outputs read as probabilities and with the frame
    logits where the model returns them (models.loss_outputs), plus the family's extra terms on
    its extra outputs."""
    def one_seed(outputs, video_labels, segment_labels, audio_labels, modality_labels):
        loss = compute_loss(loss_outputs(model, outputs), video_labels, segment_labels, cfg, audio_labels,
                            modality_labels)
        if extra_loss is not None:
            loss = loss + extra_loss(outputs[4:], video_labels, segment_labels, cfg, audio_labels)
        return loss

    in_dims = (0, 0, *(None if labels is None else 0 for labels in (segment_labels, audio_labels, modality_labels)))
    return torch.vmap(one_seed, in_dims=in_dims)(outputs, video_labels, segment_labels, audio_labels, modality_labels)


def batch_losses(batch: SeedBatch, inputs: Tensors, idx: torch.Tensor, video_labels: torch.Tensor,
                 segment_labels: torch.Tensor | None, noise: torch.Tensor | None,
                 loss_config: LossConfig, extra_loss: Callable | None = None,
                 audio_labels: torch.Tensor | None = None,
                 modality_labels: torch.Tensor | None = None) -> torch.Tensor:
    """[S] losses of one step: seed s's batch idx[s] gathered on the device, forward, its loss."""
    outputs = batch(*(x[idx] for x in inputs), noise=noise, training=True)
    seed_rows = torch.arange(idx.shape[0], device=idx.device)[:, None]
    seg = None if segment_labels is None else segment_labels[seed_rows, idx]
    audio_seg = None if audio_labels is None else audio_labels[seed_rows, idx]
    modality = None if modality_labels is None else modality_labels[idx]
    return seed_losses(outputs, video_labels[idx], seg, loss_config, extra_loss, audio_seg, batch.base, modality)


def clip_seed_gradients(params, max_norm: float) -> None:
    """Each seed's gradients scaled as torch.nn.utils.clip_grad_norm_ scales one model's (VALOR
    clips over all its parameters): by max_norm / (norm + 1e-6) where that is below 1, `norm`
    being the 2-norm of the seed's own slices of every gradient. The batch's norm would let one
    seed's gradients shrink another's."""
    grads = [p.grad for p in params if p.grad is not None]
    # [S, P], reduced along its rows: a seed's norm is then bitwise the same alone and batched
    norms = torch.stack([torch.linalg.vector_norm(g.reshape(g.shape[0], -1), dim=1) for g in grads], dim=1)
    scale = (max_norm / (torch.linalg.vector_norm(norms, dim=1) + 1e-6)).clamp(max=1.0)  # [S]
    for g in grads:
        g.mul_(scale.view(-1, *[1] * (g.ndim - 1)))


def train_step(batch: SeedBatch, optimizer: torch.optim.Optimizer, inputs: Tensors, idx: torch.Tensor,
               video_labels: torch.Tensor, segment_labels: torch.Tensor | None, noise: torch.Tensor | None,
               loss_config: LossConfig, extra_loss: Callable | None,
               audio_labels: torch.Tensor | None, modality_labels: torch.Tensor | None,
               grad_clip: float | None) -> torch.Tensor:
    """[S] losses of one step, after its update: batch_losses, backward of their sum (a seed's
    loss reaches only its own weights), each seed's clipping, the optimizer. The gradients are
    None on entry."""
    losses = batch_losses(batch, inputs, idx, video_labels, segment_labels, noise, loss_config, extra_loss,
                          audio_labels, modality_labels)
    losses.sum().backward()
    if grad_clip is not None:
        clip_seed_gradients(batch.params.values(), grad_clip)
    optimizer.step()
    return losses.detach()


OPTIMIZER_CLASSES = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}  # settings.OPTIMIZERS


def new_optimizer(batch: SeedBatch, config: TrainConfig) -> torch.optim.Optimizer:
    """config's optimizer over the stacked parameters (elementwise, so each seed's update is its
    own): fused on CUDA, and capturable there for a compiled step."""
    cuda = torch.device(config.device).type == "cuda"
    return OPTIMIZER_CLASSES[config.optimizer](batch.params.values(), lr=config.lr, betas=config.betas, eps=config.eps,
                                               weight_decay=config.weight_decay, fused=cuda,
                                               capturable=cuda and config.compile)


def _own_copy(fn: Callable) -> Callable:
    """fn with a code object of its own. Dynamo keeps compiled code per code object and, past 8
    entries, silently runs it eagerly; each Step guards on its own batch and optimizer, so a
    process that trains many times (a chain, the benchmarks, the tests) would reach that limit.
    A copy per Step compiles once and takes its cache with it when the Step goes."""
    return types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)


class Step:
    """The training step of one run over its resident data; call it with each seed's batch
    indices [S, B] and noise [S, noise_size(B)] (or None) to get the [S] losses. modality_labels:
    each modality's video-level labels [N, 2, C], for a loss that reads them."""

    def __init__(self, batch: SeedBatch, optimizer: torch.optim.Optimizer, inputs: Tensors,
                 video_labels: torch.Tensor, segment_labels: torch.Tensor | None,
                 audio_labels: torch.Tensor | None, config: TrainConfig,
                 modality_labels: torch.Tensor | None = None):
        self.batch, self.optimizer = batch, optimizer
        self.data = (inputs, video_labels, segment_labels, audio_labels, modality_labels)
        self.loss_config, self.extra_loss = config.loss, family(config.model).extra_loss
        self.batch_size, self.grad_clip = config.batch_size, config.grad_clip
        self.compiled = self._compile(torch.device(config.device)) if config.compile else None

    def _compile(self, device: torch.device) -> Callable:
        # the lr as a tensor (after any resume, which may bring a float): the schedule fills it in place
        for group in self.optimizer.param_groups:
            group["lr"] = torch.as_tensor(group["lr"], dtype=torch.float32, device=device)
        if device.type != "cuda":
            return torch.compile(_own_copy(train_step), dynamic=False)
        # CUDA graphs copy every input that may move into their own buffers at each replay: the
        # resident data (gigabytes), weights and labels stay where they are.
        inputs, *labels = self.data
        for tensor in (*inputs, *(t for t in labels if t is not None),
                       *self.batch.params.values(), *self.batch.buffers.values()):
            torch._dynamo.mark_static_address(tensor)
        return torch.compile(_own_copy(train_step), mode="reduce-overhead", dynamic=False)

    def __call__(self, idx: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        inputs, video_labels, segment_labels, audio_labels, modality_labels = self.data
        args = (self.batch, self.optimizer, inputs, idx, video_labels, segment_labels, noise, self.loss_config,
                self.extra_loss, audio_labels, modality_labels, self.grad_clip)
        self.optimizer.zero_grad(set_to_none=True)
        if self.compiled is not None and idx.shape[1] == self.batch_size:
            return self.compiled(*args).clone()  # a CUDA graph's output is overwritten by its next replay
        return train_step(*args)
