"""PLD's stage between the two trainings (Fig. 2): each seed's stage-1 model scores the labels.

The pld_labels job, the GPU chain benchmark and the studies that rerun the chain all call this
one function.
"""
from __future__ import annotations

import numpy as np

from vplan_core.data.dataset import Features, Tensors
from vplan_core.method.pld import denoise, forward_loss_matrix
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.training.prediction import predict_seeds


def refine_labels(stage1: SeedBatch, features: Features, labels: np.ndarray, k: int, alpha: float,
                  device: str = "cpu", modality: str = "visual",
                  inputs: Tensors | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(refined labels, forward-loss matrix), both [S, N, T, C]: one modality's PLG labels
    [N, T, C] of the videos `features` holds, refined (Eq. 10-11) with each seed's stage-1
    P^v (or, for audio labels, P^a: the same rule on the other modality). inputs: those
    features already on the device (a chain's training/resident.py copy), else uploaded here."""
    prob = stage1_prob(stage1, features, device, modality, inputs)
    loss = forward_loss_matrix(prob, labels)
    return denoise(loss, labels, k=k, alpha=alpha), loss


def stage1_prob(stage1: SeedBatch, features: Features, device: str = "cpu", modality: str = "visual",
                inputs: Tensors | None = None) -> np.ndarray:
    """P^v (or P^a) [S, N, T, C] of every seed's stage-1 model (on `inputs`, if given), read as
    probabilities as its losses read them (MGN's frame outputs are not: models.Family)."""
    inputs = features.to_tensors(device) if inputs is None else inputs
    return predict_seeds(stage1, inputs, as_probabilities=True)[f"{modality}_prob"]
