"""TDC: top-down hyper-correlation.

Support side (:func:`support_columns`, computed once per support): for every pre-ReLU bottleneck
feature of layers 2–4, the L2-normalised feature columns at the support-foreground positions
(positions where the bilinearly resized mask equals exactly 1). Query side
(:func:`hyper_correlation`): relu of the cosine similarity of every query position with every kept
column, averaged over the columns → one map per bottleneck, stacked per stage.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NORM_EPS = 1e-5


def support_columns(hyper: list[torch.Tensor], mask: torch.Tensor) -> list[list[torch.Tensor]]:
    """Normalised foreground columns of each support feature.

    Args:
        hyper: bottleneck features [B,C_l,h,w] of layers 2–4.
        mask: support mask [B,1,S,S] in {0,1} at input resolution.

    Returns:
        ``cols[l][b]`` = [C_l, N_b] unit columns (N_b ≥ 1: a single zero column when the mask has
        no pixel on the grid, which makes that correlation zero, as in the official code).
    """
    out: list[list[torch.Tensor]] = []
    for feat in hyper:
        m = F.interpolate(mask, size=feat.shape[-2:], mode="bilinear", align_corners=True)
        per_item = []
        for b in range(feat.shape[0]):
            f = feat[b].flatten(1)
            keep = m[b].flatten() == 1
            if bool(keep.any()):
                cols = f[:, keep]
                cols = cols / (cols.norm(dim=0, keepdim=True) + NORM_EPS)
            else:
                cols = f.new_zeros(f.shape[0], 1)
            per_item.append(cols)
        out.append(per_item)
    return out


def hyper_correlation(
    query_hyper: list[torch.Tensor], columns: list[list[torch.Tensor]], stage_sizes: tuple[int, int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Correlation maps of one shot, grouped by stage (see :func:`mean_hyper_correlation`)."""
    return mean_hyper_correlation(query_hyper, [columns], stage_sizes)


def mean_hyper_correlation(
    query_hyper: list[torch.Tensor], shots: list[list[list[torch.Tensor]]], stage_sizes: tuple[int, int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Correlation maps averaged over shots (plain mean, as the official code), grouped by stage.

    Args:
        query_hyper: query bottleneck features of layers 2–4, each [B,C_l,h,w].
        shots: one :func:`support_columns` output per shot; each has batch B or 1 (a support
            shared by every query).
        stage_sizes: bottlenecks in layer2, layer3, layer4, e.g. (4, 6, 3).

    Returns:
        (layer4 [B,n4,h,w], layer3 [B,n3,h,w], layer2 [B,n2,h,w]).

    The query columns are normalised once, and the kept columns of all shots are multiplied in one
    product per layer and image (the per-shot means are then taken over each shot's slice).
    """
    k = len(shots)
    maps = []
    for layer, feat in enumerate(query_hyper):
        b, _, h, w = feat.shape
        q = feat.flatten(2)
        q = q / (q.norm(dim=1, keepdim=True) + NORM_EPS)
        per_item = []
        for i in range(b):
            cols = [shot[layer][i] if len(shot[layer]) > 1 else shot[layer][0] for shot in shots]
            corr = torch.matmul(q[i].transpose(0, 1), torch.cat(cols, dim=1) if k > 1 else cols[0]).clamp_min_(0)
            total = None
            for part in corr.split([c.shape[1] for c in cols], dim=1):
                m = part.mean(dim=1)
                total = m if total is None else total + m
            assert total is not None
            per_item.append(total / k)
        maps.append(torch.stack(per_item).reshape(b, 1, h, w))
    n2, n3, _ = stage_sizes
    l2 = torch.cat(maps[:n2], dim=1)
    l3 = torch.cat(maps[n2 : n2 + n3], dim=1)
    l4 = torch.cat(maps[n2 + n3 :], dim=1)
    return l4, l3, l2


class TDC(nn.Module):
    """Top-down merge of the stage-wise correlation stacks into [B,out,h,w] (``hyper_final``)."""

    def __init__(self, stage_sizes: tuple[int, int, int], hidden: int = 16, out_channels: int = 48) -> None:
        super().__init__()
        n2, n3, n4 = stage_sizes
        self.conv1 = nn.Conv2d(n4, hidden, kernel_size=1)
        self.conv2 = nn.Conv2d(n3, hidden, kernel_size=1)
        self.conv3 = nn.Conv2d(n2, hidden, kernel_size=1)
        self.merge1 = nn.Sequential(
            nn.Conv2d(hidden, hidden, kernel_size=3, padding=1),
            nn.GroupNorm(1, hidden),
            nn.ReLU(inplace=True),
        )
        self.merge2 = nn.Sequential(
            nn.Conv2d(hidden, hidden, kernel_size=3, padding=1),
            nn.GroupNorm(1, hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_channels, kernel_size=3, padding=1),
        )

    def forward(self, l4: torch.Tensor, l3: torch.Tensor, l2: torch.Tensor) -> torch.Tensor:
        x = self.merge1(self.conv2(l3) + self.conv1(l4))
        return self.merge2(x + self.conv3(l2))
