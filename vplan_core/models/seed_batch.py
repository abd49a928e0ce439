"""S parsers of one architecture (HAN, MGN, MM-Pyramid) trained as one model: every parameter gets a leading seed axis.

Several seeds cost little more than one: the seeds' weights are stacked ([S, ...] tensors,
torch.func.stack_module_state) and HAN's own forward runs once for all of them under
torch.vmap (functional_call), so each layer is one batched matmul instead of S small ones.
The seeds stay independent models: a seed's loss reaches only its own slice of the weights
(the trainer backpropagates the sum of the per-seed losses), Adam is elementwise, and dropout
reads noise drawn from each seed's own generator (models/noise.py). A seed therefore trains
to the same weights alone (S = 1) as beside others.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch.func import functional_call, stack_module_state

from torch import nn

Outputs = tuple[torch.Tensor, ...]  # (p, p^a, p^v, frame_prob, *a family's extra outputs)


class SeedBatch:
    """Stacked parameters and buffers of S models of one class, evaluated in one vmapped call.

    params: name -> leaf tensor [S, ...] (what the optimizer updates); buffers likewise.
    """

    def __init__(self, models: Sequence[nn.Module]):
        if not models:
            raise ValueError("a seed batch needs at least one model")
        self.params, self.buffers = stack_module_state(list(models))
        self.base = copy.deepcopy(models[0]).to("meta")  # architecture only, no storage
        self.model_class = type(models[0])
        self.init_kwargs = dict(models[0].init_kwargs)

    @property
    def num_seeds(self) -> int:
        return next(iter(self.params.values())).shape[0]

    def noise_size(self, batch: int, segments: int = 10) -> int:
        return self.base.noise_size(batch, segments)

    def __call__(self, audio: torch.Tensor, visual_2d: torch.Tensor, visual_3d: torch.Tensor,
                 noise: torch.Tensor | None = None, shared_inputs: bool = False,
                 training: bool = False) -> Outputs:
        """Outputs [S, B, ...] of every seed.

        Inputs are [S, B, ...] (each seed its own batch) or, with shared_inputs, [B, ...] seen
        by all seeds (evaluation). noise [S, noise_size(B)] is required when training with
        dropout: the batch has no hidden randomness of its own.
        """
        self.base.train(training)
        if training and noise is None and self.noise_size(visual_3d.shape[-3], visual_3d.shape[-2]):
            raise ValueError("training a seed batch with dropout needs each seed's noise")

        def one_seed(params, buffers, audio, visual_2d, visual_3d, noise):
            return functional_call(self.base, (params, buffers), (audio, visual_2d, visual_3d),
                                   {"noise": noise})

        data_dim = None if shared_inputs else 0
        in_dims = (0, 0, data_dim, data_dim, data_dim, None if noise is None else 0)
        return torch.vmap(one_seed, in_dims=in_dims)(self.params, self.buffers, audio, visual_2d,
                                                     visual_3d, noise)

    def state(self) -> dict[str, torch.Tensor]:
        """Detached copies of all stacked tensors (for best-epoch snapshots and resume)."""
        return {k: v.detach().clone() for k, v in {**self.params, **self.buffers}.items()}

    @torch.no_grad()
    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        for name, tensor in {**self.params, **self.buffers}.items():
            tensor.copy_(state[name])

    def to(self, device: str | torch.device) -> "SeedBatch":
        """Moves the stacked tensors (as new leaves) to device."""
        self.params = {k: v.detach().to(device).requires_grad_(v.requires_grad)
                       for k, v in self.params.items()}
        self.buffers = {k: v.to(device) for k, v in self.buffers.items()}
        return self

    def model(self, seed_index: int, state: dict[str, torch.Tensor] | None = None) -> nn.Module:
        """Seed `seed_index` as a plain model (CPU, eval mode), from `state` or the current weights."""
        state = state if state is not None else self.state()
        model = self.model_class(**self.init_kwargs)
        model.load_state_dict({k: v[seed_index].detach().cpu() for k, v in state.items()})
        return model.eval()
