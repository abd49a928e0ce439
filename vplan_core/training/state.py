"""The whole state of a training run between two epochs: what resume stores and restores.

It holds the live objects (the seed batch, optimizer, scheduler and every seed's random
streams) and the model selection so far (each seed's best val score, its epoch and weights,
and each seed's history), so that a run continued from it ends where an uninterrupted run
ends (CPU; bitwise). It also keeps the epochs' log lines and the wall time so far: Snakemake
clears a job's log before each attempt, and a resumed job's log and time include the stopped
attempts' epochs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from vplan_core.models.seed_batch import SeedBatch


@dataclass
class TrainingState:
    batch: SeedBatch
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generators: list[torch.Generator]  # each seed's data order, then each seed's dropout noise
    epoch: int = 0  # the last finished epoch
    best_scores: list[float] = field(default_factory=list)
    best_epochs: list[int] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    histories: list[list[dict]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # each finished epoch's log line
    seconds: float = 0.0  # wall time of the training up to the end of `epoch`, over all attempts

    def __post_init__(self) -> None:
        n = self.batch.num_seeds
        self.best_scores = self.best_scores or [-math.inf] * n
        self.best_epochs = self.best_epochs or [0] * n
        self.best_state = self.best_state or self.batch.state()
        self.histories = self.histories or [[] for _ in range(n)]

    def record(self, epoch: int, entries: list[dict], scores: list[float]) -> list[int]:
        """Add each seed's history entry of `epoch`; a seed whose val score is at least its best
        so far (ties: the later, as the reference's ``>=``) keeps this epoch's weights. Returns
        the seeds that improved."""
        improved = []
        for s, (entry, score) in enumerate(zip(entries, scores)):
            self.histories[s].append(entry)
            if score >= self.best_scores[s]:
                self.best_scores[s], self.best_epochs[s] = score, epoch
                improved.append(s)
        if improved:
            for name, value in self.batch.state().items():
                self.best_state[name][improved] = value[improved]
        self.epoch = epoch
        return improved

    def state_dict(self) -> dict:
        """Plain tensors and values (torch.load(weights_only=True) reads them back)."""
        return {"epoch": self.epoch, "batch": self.batch.state(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "generators": [g.get_state() for g in self.generators],
                "best_scores": self.best_scores, "best_epochs": self.best_epochs,
                "best_state": self.best_state, "histories": self.histories,
                "lines": self.lines, "seconds": self.seconds}

    def load_state_dict(self, saved: dict) -> None:
        self.batch.load_state(saved["batch"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        for generator, state in zip(self.generators, saved["generators"]):
            generator.set_state(state)
        self.epoch = saved["epoch"]
        self.best_scores, self.best_epochs = saved["best_scores"], saved["best_epochs"]
        self.best_state, self.histories = saved["best_state"], saved["histories"]
        self.lines, self.seconds = saved["lines"], saved["seconds"]
