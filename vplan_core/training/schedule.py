"""The learning-rate schedules of train.schedule, set once before each epoch.

"step" is StepLR(lr_step, lr_gamma), the reference HAN's. "warmup_cosine" is VALOR's
lr_warm_up_cos_anneal (Franklin905/VALOR, main_avvp.py): a linear warm-up, then a cosine from
the lr down to min_lr at the last epoch, by epoch, not by step. Both are LRSchedulers: their
state resumes with the optimizer's (training/state.py), and a compiled step's tensor lr is filled
in place.
"""
from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LRScheduler

from vplan_core.training.settings import TrainConfig


def warmup_cosine_lr(epoch: int, warmup_epochs: int, epochs: int, min_lr: float, max_lr: float) -> float:
    """The lr of `epoch` (1, 2, ...), VALOR's formula as written: epoch / warmup_epochs * max_lr
    before warmup_epochs (so epoch 1 is not 0), max_lr at it, min_lr at `epochs`."""
    if epoch < warmup_epochs:
        return epoch / warmup_epochs * max_lr
    progress = (epoch - warmup_epochs) / (epochs - warmup_epochs)
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(progress * math.pi))


class WarmupCosineLR(LRScheduler):
    """warmup_cosine_lr of each group's initial lr; last_epoch counts the finished epochs, so the
    lr after construction is epoch 1's."""

    def __init__(self, optimizer: torch.optim.Optimizer, warmup_epochs: int, epochs: int, min_lr: float):
        self.warmup_epochs, self.epochs, self.min_lr = warmup_epochs, epochs, min_lr
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        return [warmup_cosine_lr(self.last_epoch + 1, self.warmup_epochs, self.epochs, self.min_lr, base)
                for base in self.base_lrs]


def new_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> LRScheduler:
    if config.schedule == "warmup_cosine":
        return WarmupCosineLR(optimizer, config.warmup_epochs, config.epochs, config.min_lr)
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step, gamma=config.lr_gamma)
