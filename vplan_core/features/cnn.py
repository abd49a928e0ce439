"""torchvision backbones for the visual features, classifier removed (final pooled features).

Official LLP layout: the 2D CNN sees the 80 frames (8 fps) at 224 px -> [80, 2048] for
ResNet-152; R(2+1)D-18 sees the same 80 frames at 112 px as 10 clips of 8 frames -> [10, 512].
Weights come from a local file or "random:<seed>" (weights.apply_weights); nothing downloads.
"""

from __future__ import annotations

import numpy as np
import torch
import torchvision
from torch import nn

from .registry import CNN_PUBLISHED
from .weights import apply_weights

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
KINETICS_MEAN, KINETICS_STD = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)
BACKBONES_2D = {"resnet152": 2048, "resnet50": 2048, "resnet18": 512}
R2PLUS1D_DIM = 512


def build_2d_backbone(name: str, weights: str, config_key: str = "features.cnn2d.weights"
                      ) -> tuple[nn.Module, str, str]:
    """(model in eval mode with fc=Identity, weights label, sha256); output [B, dim]."""
    if name not in BACKBONES_2D:
        raise ValueError(f"unknown 2D backbone {name!r}; choose one of {sorted(BACKBONES_2D)}")
    model = getattr(torchvision.models, name)(weights=None)
    label, sha = apply_weights(model, weights, config_key, CNN_PUBLISHED[name])
    model.fc = nn.Identity()
    return model.eval(), label, sha


def build_r2plus1d(weights: str, config_key: str = "features.r2plus1d.weights"
                   ) -> tuple[nn.Module, str, str]:
    """(r2plus1d_18 in eval mode with fc=Identity, label, sha256); [B, 3, T, H, W] -> [B, 512]."""
    model = torchvision.models.video.r2plus1d_18(weights=None)
    label, sha = apply_weights(model, weights, config_key, CNN_PUBLISHED["r2plus1d_18"])
    model.fc = nn.Identity()
    return model.eval(), label, sha


def _normalise(frames: np.ndarray, mean: tuple, std: tuple, device: str) -> torch.Tensor:
    """uint8 [..., H, W, 3] -> float32 [..., 3, H, W] scaled to [0, 1] and standardised."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(device).float().div_(255.0)
    x = (x - torch.tensor(mean, device=device)) / torch.tensor(std, device=device)
    return x.movedim(-1, -3)


def images_to_2d_input(frames: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """uint8 [B, H, W, 3] -> ImageNet-normalised [B, 3, H, W]."""
    return _normalise(frames, IMAGENET_MEAN, IMAGENET_STD, device)


def clips_to_r2plus1d_input(clips: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """uint8 [B, T, H, W, 3] -> Kinetics-normalised [B, 3, T, H, W]."""
    return _normalise(clips, KINETICS_MEAN, KINETICS_STD, device).transpose(1, 2)
