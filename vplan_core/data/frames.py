"""Frames to model size as batched tensor ops, on the device that runs the model.

The rule (recorded in each store's sampling attrs as RESIZE_RULE): resize the shorter side to
`size` (bilinear, antialiased; the longer side int(size * long / short), as
torchvision.transforms.Resize), then centre-crop size x size. On CPU uint8 frames are resized
in uint8 (torch's vectorised antialiased kernel); elsewhere in float32, rounded back to uint8.
Either lies within one grey level of PIL's antialiased bilinear resize, which earlier versions
ran frame by frame (tests/test_extraction_pass.py measures it).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def resized_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """(h, w) with the shorter side `size`, as torchvision.transforms.Resize(size)."""
    if width <= height:
        return int(size * height / width), size
    return size, int(size * width / height)


def resize_crop(frames, size: int, mode: str = "bilinear") -> torch.Tensor:
    """uint8 frames [K, H, W, 3] (or one [H, W, 3]; numpy or tensor, any device) -> uint8
    [K, size, size, 3] (or [size, size, 3]) by the rule above."""
    x = torch.as_tensor(frames)
    single = x.ndim == 3
    x = x[None] if single else x
    if x.ndim != 4 or x.shape[-1] != 3 or x.dtype != torch.uint8:
        raise ValueError(f"resize_crop wants uint8 frames [K, H, W, 3], got {x.dtype} {tuple(x.shape)}")
    height, width = x.shape[1:3]
    new_h, new_w = resized_shape(height, width, size)
    images = x.permute(0, 3, 1, 2)  # a channels-last view: what the uint8 kernel wants
    if (new_h, new_w) != (height, width) and len(x):
        if images.device.type == "cpu" and mode == "bilinear":
            images = F.interpolate(images, size=(new_h, new_w), mode=mode, antialias=True)
        else:
            images = F.interpolate(images.float(), size=(new_h, new_w), mode=mode, antialias=True)
            images = images.round_().clamp_(0, 255).to(torch.uint8)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    out = images[:, :, top:top + size, left:left + size].permute(0, 2, 3, 1)
    return out[0] if single else out


def resize_squash(frames, size: int) -> torch.Tensor:
    """uint8 frames [K, H, W, 3] -> uint8 [K, size, size, 3]: the whole frame to size x size (its
    aspect ratio not kept), bilinear without antialiasing, as VALOR's CLIP frames (torchvision
    0.13's transforms.Resize((224, 224)) on a tensor); rounded back to uint8."""
    images = torch.as_tensor(frames).permute(0, 3, 1, 2).float()
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    return images.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


REDUCE_MARGIN = 2  # frames are reduced at decode time only beyond twice the largest model input


def reduce_frames(frames: np.ndarray, short_side: int | None) -> np.ndarray:
    """uint8 frames [K, H, W, 3] whose shorter side exceeds REDUCE_MARGIN * short_side, resized
    to that shorter side (bilinear, antialiased: resize_crop's CPU kernel, without the crop);
    smaller frames are returned as they are, so videos up to twice the models' size (the
    demo's, most LLP downloads) give the features they gave before. The margin leaves the last
    resize to each model's own size and rule."""
    target = REDUCE_MARGIN * short_side if short_side else 0
    if not target or not len(frames) or min(frames.shape[1:3]) <= target:
        return frames
    images = torch.from_numpy(frames).permute(0, 3, 1, 2)
    images = F.interpolate(images, size=resized_shape(*frames.shape[1:3], target), mode="bilinear", antialias=True)
    return np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy())


def normalise(frames: torch.Tensor, mean, std, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 [..., H, W, 3] -> [..., 3, H, W] scaled to [0, 1] and standardised, in `dtype`
    (one scale and one shift in place: on a CPU this step costs as much as a resize)."""
    x = torch.as_tensor(frames).to(torch.float32)
    std = x.new_tensor(std)
    x.mul_(1.0 / (255.0 * std)).sub_(x.new_tensor(mean) / std)
    return x.movedim(-1, -3).to(dtype)


def resize_crop_array(frame: np.ndarray, size: int) -> np.ndarray:
    """resize_crop of one numpy frame (grayscale [H, W] becomes 3 equal channels), as numpy."""
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=-1)
    return resize_crop(np.require(frame, requirements=["C", "W"]), size).numpy()
