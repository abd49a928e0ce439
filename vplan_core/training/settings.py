"""A training run's settings (TrainConfig): what the trainer, its step and its schedule read,
below all three (training/trainer.py, step.py, schedule.py), so that none imports another for them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from vplan_core.feature_registry import DEFAULT_INPUTS
from vplan_core.method.losses import LossConfig
from vplan_core.models import DEFAULT_FAMILY

OPTIMIZERS = ("adam", "adamw")  # torch.optim.Adam, AdamW (training/step.py)
SCHEDULES = ("step", "warmup_cosine")  # training/schedule.py


@dataclass(frozen=True)
class TrainConfig:
    """One training run of one row, for every seed in `seeds`. Defaults: method.md
    "Training defaults"; `loss` says which loss (the row) and its constants."""

    loss: LossConfig = field(default_factory=LossConfig)
    seeds: tuple[int, ...] = (0,)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 3.0e-4
    lr_step: int = 10  # schedule "step" only, as lr_gamma
    lr_gamma: float = 0.1
    optimizer: str = "adam"  # or "adamw" (decoupled weight decay: VALOR's)
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1.0e-8
    schedule: str = "step"  # StepLR(lr_step, lr_gamma), or "warmup_cosine": VALOR's (training/schedule.py)
    warmup_epochs: int = 0  # warmup_cosine only, as min_lr
    min_lr: float = 0.0
    grad_clip: float | None = None  # each seed's largest total gradient norm (VALOR: 1.0); None: no clipping
    device: str = "cpu"
    d_model: int = 512  # train.d_model, for the families whose builder reads it (FAMILIES' train_keys)
    dropout: float = 0.1  # train.dropout, likewise
    standardize_inputs: bool = False  # see models/inputs.py: for the demo's uneven feature scales
    compile: bool = False  # torch.compile the whole step, CUDA graphs on a GPU (training/step.py)
    model: str = DEFAULT_FAMILY  # the parser family (vplan_core.models.FAMILIES)
    model_kwargs: dict = field(default_factory=dict)  # the family's constructor arguments
    # the feature each input is (models.<name>.inputs): the job loads them, its checkpoints record
    # them, so that `vplan parse` and PLD read what the model was trained on
    inputs: dict = field(default_factory=lambda: dict(DEFAULT_INPUTS))

    def __post_init__(self) -> None:
        # plain dicts and lists as they come from a workflow's params or a checkpoint payload
        if isinstance(self.loss, dict):
            object.__setattr__(self, "loss", LossConfig(**self.loss))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct integers, one at least; got {list(self.seeds)}")
        problems = [problem for wrong, problem in self._recipe_checks() if wrong]
        if problems:
            raise ValueError("training settings: " + "; ".join(problems))

    def _recipe_checks(self) -> list[tuple[bool, str]]:
        """(is wrong, what is wrong) of each optimiser, schedule and clipping setting."""
        cosine = self.schedule == "warmup_cosine"
        return [
            (self.optimizer not in OPTIMIZERS, f"optimizer {self.optimizer!r} is not one of {list(OPTIMIZERS)}"),
            (not self.weight_decay >= 0, f"weight_decay {self.weight_decay} is negative"),
            (len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas),
             f"betas {list(self.betas)} must be two numbers in [0, 1)"),
            (not self.eps > 0, f"eps {self.eps} must be positive"),
            (self.schedule not in SCHEDULES, f"schedule {self.schedule!r} is not one of {list(SCHEDULES)}"),
            (cosine and not 0 <= self.warmup_epochs < self.epochs,
             f"warmup_epochs {self.warmup_epochs} must be in [0, epochs {self.epochs}) for warmup_cosine"),
            (cosine and not 0 <= self.min_lr <= self.lr, f"min_lr {self.min_lr} must be in [0, lr {self.lr}]"),
            (self.grad_clip is not None and not self.grad_clip > 0,
             f"grad_clip {self.grad_clip} must be positive (None: no clipping)"),
        ]
