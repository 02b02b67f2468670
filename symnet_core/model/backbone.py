"""Deep-stem, dilated ResNet-50/101 (PSPNet style) used frozen by Sym-Net.

The stem is three 3×3 convolutions (w, w, 2w channels) + max-pool; layer3 and layer4 are
dilated (2 and 4) so the output stride is 8. Module and parameter names follow the official
checkpoints (``layer0.{0,1,3,4,6,7}``, ``layerN.<block>.{conv1,bn1,...,downsample.{0,1}}``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

EXPANSION = 4


class Bottleneck(nn.Module):
    """ResNet bottleneck with the stride (and dilation) on the 3×3 convolution."""

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(
            planes, planes, kernel_size=3, stride=stride, padding=dilation, dilation=dilation, bias=False
        )
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * EXPANSION, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * EXPANSION)
        self.downsample = downsample

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        """Residual sum *before* the final ReLU (the tensor hyper-correlation uses)."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.pre_activation(x))


def _make_stage(
    in_channels: int, planes: int, blocks: int, stride: int, dilation: int
) -> tuple[nn.Sequential, int]:
    out_channels = planes * EXPANSION
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
        )
    layers = [Bottleneck(in_channels, planes, stride, dilation, downsample)]
    layers += [Bottleneck(out_channels, planes, 1, dilation) for _ in range(blocks - 1)]
    return nn.Sequential(*layers), out_channels


def build_dilated_resnet(
    bottlenecks: tuple[int, int, int, int], width: int = 64
) -> tuple[nn.Sequential, nn.Sequential, nn.Sequential, nn.Sequential, nn.Sequential]:
    """Build ``layer0..layer4`` of the deep-stem dilated ResNet.

    Args:
        bottlenecks: blocks per stage, (3, 4, 6, 3) for ResNet-50, (3, 4, 23, 3) for ResNet-101.
        width: channels of the first stage's bottleneck (64 = official).

    Returns:
        The five stages. For a [B,3,S,S] input they give [B,2w,S/4], [B,4w,S/4], [B,8w,S/8],
        [B,16w,S/8], [B,32w,S/8] (sizes rounded up: 473 → 119, 119, 60, 60, 60).
    """
    w = width
    layer0 = nn.Sequential(
        nn.Conv2d(3, w, kernel_size=3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(w),
        nn.ReLU(inplace=True),
        nn.Conv2d(w, w, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(w),
        nn.ReLU(inplace=True),
        nn.Conv2d(w, 2 * w, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(2 * w),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    channels = 2 * w
    layer1, channels = _make_stage(channels, w, bottlenecks[0], stride=1, dilation=1)
    layer2, channels = _make_stage(channels, 2 * w, bottlenecks[1], stride=2, dilation=1)
    layer3, channels = _make_stage(channels, 4 * w, bottlenecks[2], stride=1, dilation=2)
    layer4, channels = _make_stage(channels, 8 * w, bottlenecks[3], stride=1, dilation=4)
    return layer0, layer1, layer2, layer3, layer4


@dataclass
class BackboneFeatures:
    """Features of one backbone pass.

    Attributes:
        stages: outputs of layer0..layer4 after their final ReLU, [B,C_i,h_i,w_i].
        hyper: pre-ReLU bottleneck outputs of layer2, layer3 and layer4 (in that order; the
            official code also computes layer1's last block but discards its correlation).
            Each [B,C,h,w] at the stride-8 grid.
    """

    stages: list[torch.Tensor]
    hyper: list[torch.Tensor]


def extract_features(
    stages: tuple[nn.Module, nn.Module, nn.Module, nn.Module, nn.Module],
    x: torch.Tensor,
    with_hyper: bool = True,
) -> BackboneFeatures:
    """Run the backbone on ``x`` [B,3,S,S] (ImageNet-normalised) and collect both feature kinds."""
    feat = stages[0](x)
    outs = [feat]
    hyper: list[torch.Tensor] = []
    for stage_index, stage in enumerate(stages[1:], start=1):
        for block in stage:
            pre = block.pre_activation(feat)
            if with_hyper and stage_index >= 2:
                hyper.append(pre)
            feat = F.relu(pre)
        outs.append(feat)
    return BackboneFeatures(stages=outs, hyper=hyper)
