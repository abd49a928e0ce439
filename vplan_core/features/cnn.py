"""torchvision backbones for the visual features, classifier removed (final pooled features).

Official LLP layout: the 2D CNN sees the 80 frames (8 fps) at 224 px -> [80, 2048] for
ResNet-152; R(2+1)D-18 sees the same 80 frames at 112 px as 10 clips of 8 frames -> [10, 512].
Weights come from a local file or "random:<seed>" (weights.apply_weights); nothing downloads.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from ..data.video import llp_frame_times
from ..data.frames import normalise, resize_crop
from .decoding import Decoded
from .extractor import FRAME_RULE, RESIZE_RULE, Extractor, common_needs, common_sampling, place_model, torch_runner
from vplan_core.feature_registry import CNN_PUBLISHED
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


def images_to_2d_input(frames: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> ImageNet-normalised [B, 3, H, W]."""
    return normalise(frames, IMAGENET_MEAN, IMAGENET_STD, dtype)


def clips_to_r2plus1d_input(clips: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 [B, T, H, W, 3] -> Kinetics-normalised [B, 3, T, H, W]."""
    return normalise(clips, KINETICS_MEAN, KINETICS_STD, dtype).transpose(1, 2)


def cnn2d_extractor(s: dict, device: str, feature: str = "cnn2d") -> Extractor:
    """features.cnn2d: `backbone` on the frames at `fps` (80 over 10 s), `size` px -> [80, dim]."""
    name, size, fps = s.get("backbone", "resnet152"), s.get("size", 224), s.get("fps", 8)
    model, label, sha = build_2d_backbone(name, s["weights"])
    model = place_model(model, device, channels_last="2d")
    times = llp_frame_times(fps, s.get("seconds", 10), s.get("start_s", 0.0))

    def prepare(decoded: Decoded) -> torch.Tensor:
        return resize_crop(decoded.frames_at(times), size)

    return Extractor(
        needs=common_needs(s, frame_times=times, frame_size=size), prepare=prepare, run=torch_runner(model, images_to_2d_input),
        per_video_shape=lambda: [len(times), BACKBONES_2D[name]],
        model=name, weights=label, weights_sha256=sha, device=torch.device(device),
        sampling={**common_sampling(s), "fps": fps, "num_frames": len(times),
                  "frame_size": size, "frame_times": "start_s + (i + 0.5) / fps",
                  "frame_rule": FRAME_RULE, "resize": RESIZE_RULE,
                  "normalise": "imagenet mean/std"})


def r2plus1d_extractor(s: dict, device: str, feature: str = "r2plus1d") -> Extractor:
    """features.r2plus1d: the same frames at `size` px as clips of `clip_len` -> [10, 512]."""
    size, fps, clip_len = s.get("size", 112), s.get("fps", 8), s.get("clip_len", 8)
    times = llp_frame_times(fps, s.get("seconds", 10), s.get("start_s", 0.0))
    if len(times) % clip_len:
        raise ValueError(f"{len(times)} frames do not split into clips of {clip_len}")
    model, label, sha = build_r2plus1d(s["weights"])
    model = place_model(model, device, channels_last="3d")

    def prepare(decoded: Decoded) -> torch.Tensor:
        frames = resize_crop(decoded.frames_at(times), size)
        return frames.reshape(-1, clip_len, *frames.shape[1:])

    return Extractor(
        needs=common_needs(s, frame_times=times, frame_size=size), prepare=prepare, run=torch_runner(model, clips_to_r2plus1d_input),
        per_video_shape=lambda: [len(times) // clip_len, R2PLUS1D_DIM],
        model="r2plus1d_18", weights=label, weights_sha256=sha, device=torch.device(device),
        sampling={**common_sampling(s), "fps": fps, "num_frames": len(times),
                  "clip_len": clip_len, "frame_size": size,
                  "frame_times": "start_s + (i + 0.5) / fps", "frame_rule": FRAME_RULE,
                  "resize": RESIZE_RULE, "normalise": "kinetics mean/std"})
