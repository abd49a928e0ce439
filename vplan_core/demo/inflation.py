"""Inflate a 2D ResNet-18 into torchvision's R(2+1)D-18, as I3D bootstraps video networks from
ImageNet weights (Carreira & Zisserman 2017).

The demo world's "Kinetics" cannot train an R(2+1)D-18 from scratch on two CPU cores (trained
that way, layer4 only, it reached 20 % holdout accuracy and its features hurt every ablation
row). Real video backbones commonly start from an image network instead. After inflation,
layers 1-4 compute on every frame exactly what the ResNet's layers compute on that frame,
subsampled in time where R(2+1)D strides (checked in tests to float precision):
- each (2+1)D convolution's spatial part holds the 2D kernel, its mid BatchNorm the 2D one,
  and its temporal part is the identity (centre tap);
- the ReLU that R(2+1)D has between the two parts, and ResNet has not in a block's second
  convolution, is made inactive by shifting that mid activation up by SHIFT and back down in
  the block's BatchNorm (exact while the 2D activation stays above -SHIFT);
- the block's own BatchNorms, which ResNet lacks, are identities.
The stem cannot be inflated (45 mid channels against ResNet's 64, and no max-pool): it is
distilled instead (backbones.pretrain_backbone), at half the 2D CNN's input size so that its
output grid matches the ResNet's stem after its max-pool.
"""
from __future__ import annotations

import torch
from torch import nn

SHIFT = 50.0  # the demo ResNet-18's second-convolution outputs reach -12.4 on 520 in-world images


@torch.no_grad()
def _copy_batch_norm(dst: nn.modules.batchnorm._BatchNorm, src: nn.modules.batchnorm._BatchNorm,
                     channels: slice) -> None:
    dst.weight[channels] = src.weight
    dst.bias[channels] = src.bias
    dst.running_mean[channels] = src.running_mean
    dst.running_var[channels] = src.running_var


@torch.no_grad()
def _silent_batch_norm(bn: nn.modules.batchnorm._BatchNorm, bias: float = 0.0) -> None:
    """Identity in eval mode (plus bias): weight 1, mean 0, variance 1 - eps."""
    bn.weight.fill_(1.0)
    bn.bias.fill_(bias)
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)


@torch.no_grad()
def _inflate_conv(conv2plus1d: nn.Sequential, conv2d: nn.Conv2d, bn2d: nn.BatchNorm2d, shift: float) -> None:
    """Spatial part = conv2d, mid BatchNorm = bn2d (+ shift), temporal part = identity."""
    spatial, mid_bn, _, temporal = conv2plus1d
    out = conv2d.out_channels
    spatial.weight.zero_()
    spatial.weight[:out, :, 0] = conv2d.weight
    mid_bn.reset_parameters()
    mid_bn.weight.zero_()  # unused mid channels stay 0
    _copy_batch_norm(mid_bn, bn2d, slice(0, out))
    mid_bn.bias[:out] += shift
    temporal.weight.zero_()
    centre = temporal.kernel_size[0] // 2
    temporal.weight[torch.arange(out), torch.arange(out), centre] = 1.0


@torch.no_grad()
def inflate_resnet18(resnet: nn.Module, r2plus1d: nn.Module, n_logits: int | None = None) -> None:
    """Copy resnet's layers 1-4 (and the first n_logits rows of fc) into r2plus1d, in place.

    Both are torchvision models (resnet18, r2plus1d_18); the stem is left as it is.
    """
    for i in range(1, 5):
        for video_block, image_block in zip(getattr(r2plus1d, f"layer{i}"), getattr(resnet, f"layer{i}"),
                                            strict=True):
            _inflate_conv(video_block.conv1[0], image_block.conv1, image_block.bn1, 0.0)
            _silent_batch_norm(video_block.conv1[1])
            _inflate_conv(video_block.conv2[0], image_block.conv2, image_block.bn2, SHIFT)
            _silent_batch_norm(video_block.conv2[1], bias=-SHIFT)
            if image_block.downsample is not None:
                video_block.downsample[0].weight.copy_(image_block.downsample[0].weight[:, :, None])
                _copy_batch_norm(video_block.downsample[1], image_block.downsample[1], slice(None))
    n = resnet.fc.out_features if n_logits is None else n_logits
    r2plus1d.fc.weight[:n] = resnet.fc.weight[:n]
    r2plus1d.fc.bias[:n] = resnet.fc.bias[:n]
