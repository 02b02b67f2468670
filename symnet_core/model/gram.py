"""K-shot weighting from Gram-matrix distances (as BAM weights its K shots)."""

from __future__ import annotations

import torch
from torch import nn

GRAM_EPS = 1e-7


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel–channel cosine similarity of [B,C,h,w] features → [B,C,C]."""
    b, c = features.shape[:2]
    f = features.reshape(b, c, -1)
    norm = f.norm(dim=2, keepdim=True)  # [B,C,1]
    return torch.bmm(f, f.transpose(1, 2)) / (torch.bmm(norm, norm.transpose(1, 2)) + GRAM_EPS)


def gram_distance(query_gram: torch.Tensor, support_gram: torch.Tensor) -> torch.Tensor:
    """‖G_q − G_s‖_F / C (C = Frobenius norm of an all-ones C×C matrix) → [B]."""
    c = query_gram.shape[-1]
    return (query_gram - support_gram).norm(dim=(1, 2)) / float(c)


def build_shot_reweighter(shots: int) -> nn.Sequential:
    """``kshot_rw``: 1×1 conv K→2, ReLU, 1×1 conv 2→K (both with bias)."""
    return nn.Sequential(
        nn.Conv2d(shots, 2, kernel_size=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(2, shots, kernel_size=1),
    )


def shot_weights(distances: torch.Tensor, reweighter: nn.Module | None) -> torch.Tensor:
    """Softmax shot weights from Gram distances.

    Args:
        distances: [B,K] Gram distances per shot.
        reweighter: ``kshot_rw`` (required when K > 1).

    Returns:
        [B,K] weights summing to 1; ones for K = 1. The reweighter sees the distances sorted
        ascending and its outputs are put back in shot order before the softmax.
    """
    b, k = distances.shape
    if k == 1:
        return torch.ones_like(distances)
    if reweighter is None:
        raise ValueError(f"{k} shots need the kshot_rw head of a {k}-shot model")
    sorted_vals, order = distances.sort(dim=1)
    raw = reweighter(sorted_vals.reshape(b, k, 1, 1)).reshape(b, k)
    unsorted = torch.empty_like(raw).scatter_(1, order, raw)
    return torch.softmax(unsorted, dim=1)
