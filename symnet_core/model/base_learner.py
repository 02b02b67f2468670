"""The frozen PSPNet head Sym-Net uses as its base learner (BAM style)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PyramidPooling(nn.Module):
    """PSPNet pyramid pooling: bins 1, 2, 3, 6 → 1×1 conv → BN → ReLU → upsample, concat with input.

    Input [B,C,h,w] → output [B,2C,h,w] (C/4 channels per bin).
    """

    def __init__(self, in_channels: int, bins: tuple[int, ...] = (1, 2, 3, 6)) -> None:
        super().__init__()
        reduced = in_channels // len(bins)
        self.features = nn.ModuleList(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(b),
                nn.Conv2d(in_channels, reduced, kernel_size=1, bias=False),
                nn.BatchNorm2d(reduced),
                nn.ReLU(inplace=True),
            )
            for b in bins
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        pooled = [F.interpolate(f(x), size, mode="bilinear", align_corners=True) for f in self.features]
        return torch.cat([x, *pooled], dim=1)


def build_base_learner(in_channels: int, num_outputs: int, hidden: int = 512) -> nn.Sequential:
    """PPM + classifier; ``learner_base.0`` / ``learner_base.1`` in official checkpoints.

    Maps layer-4 features [B,C,h,w] to base-class logits [B,num_outputs,h,w] (channel 0 = background).
    """
    classifier = nn.Sequential(
        nn.Conv2d(2 * in_channels, hidden, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(hidden),
        nn.ReLU(inplace=True),
        nn.Dropout2d(p=0.1),
        nn.Conv2d(hidden, num_outputs, kernel_size=1),
    )
    return nn.Sequential(PyramidPooling(in_channels), classifier)
