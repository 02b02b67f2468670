"""Prototype pooling: masked average pooling and prior-driven query prototypes."""

from __future__ import annotations

from dataclasses import dataclass

import torch

MAP_EPS = 0.0005
FG_THRESHOLD = 0.7
BG_THRESHOLD = 0.4
AMBIGUOUS_RANGE = (0.4, 0.55)
FALLBACK_COUNT = 12


def masked_average_pool(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ F·m / (Σ m + 0.0005) over the grid.

    Args:
        features: [B,C,h,w]. mask: [B,1,h,w] in [0,1] on the same grid.

    Returns:
        [B,C,1,1]; an empty mask gives zeros.
    """
    h, w = features.shape[-2:]
    area = mask.mean(dim=(2, 3), keepdim=True) * (h * w) + MAP_EPS
    return (features * mask).mean(dim=(2, 3), keepdim=True) * (h * w) / area


@dataclass
class QueryPrototypes:
    """Query prototypes from the prior, each [B,C]: foreground (feeds APA), ambiguous, background."""

    foreground: torch.Tensor
    ambiguous: torch.Tensor
    background: torch.Tensor


def query_prototypes(features: torch.Tensor, prior: torch.Tensor, need_all: bool = True) -> QueryPrototypes:
    """Mean query features over the prior's foreground / ambiguous / background positions.

    Args:
        features: query mid-level features [B,C,h,w]. prior: [B,1,h,w] in [0,1].
        need_all: when False only the foreground prototype is computed (inference); the others
            are returned as the foreground one.

    Empty sets fall back as in the official code: the 12 largest prior values (foreground), the 12
    positions around the median (ambiguous), the 12 largest 1 − prior values (background).
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    p = prior.reshape(b, h * w)
    fgs, ambs, bgs = [], [], []
    for i in range(b):
        f, pi = flat[i], p[i]
        sel = pi > FG_THRESHOLD
        fg = f[:, sel] if bool(sel.any()) else f[:, torch.topk(pi, FALLBACK_COUNT).indices]
        fgs.append(fg.mean(-1))
        if not need_all:
            continue
        lo, hi = AMBIGUOUS_RANGE
        sel = (pi > lo) & (pi < hi)
        if bool(sel.any()):
            amb = f[:, sel]
        else:
            order = pi.sort().indices
            mid = (h * w) // 2
            amb = f[:, order[mid - FALLBACK_COUNT // 2 : mid + FALLBACK_COUNT // 2]]
        ambs.append(amb.mean(-1))
        sel = pi < BG_THRESHOLD
        bg = f[:, sel] if bool(sel.any()) else f[:, torch.topk(1 - pi, FALLBACK_COUNT).indices]
        bgs.append(bg.mean(-1))
    fg_t = torch.stack(fgs)
    if not need_all:
        return QueryPrototypes(fg_t, fg_t, fg_t)
    return QueryPrototypes(fg_t, torch.stack(ambs), torch.stack(bgs))
