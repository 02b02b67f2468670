"""APA: visual-text alignment prototype aggregation.

One module is shared by the support and the query side (``CrossAttention`` in checkpoints).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class APA(nn.Module):
    """Attend over a feature map with a query made of [text ; prototype], add back the prototype.

    Args:
        text_dim: width D of the class-name embedding.
        dim: feature width C (256).
    """

    def __init__(self, text_dim: int, dim: int = 256, dropout: float = 0.1) -> None:
        super().__init__()
        self.dim = dim
        self.w_q = nn.Linear(text_dim + dim, dim, bias=False)
        self.w_k = nn.Conv2d(dim, dim, kernel_size=1, bias=False)
        self.proj = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        # Bilinear score matrix M: score_j = (W_q[t; p]) M · k_j.
        self.weight = nn.Parameter(torch.empty(dim, dim))
        bound = 1.0 / math.sqrt(dim)
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, keys: torch.Tensor, text: torch.Tensor, prototype: torch.Tensor) -> torch.Tensor:
        """Aggregate.

        Args:
            keys: [B,C,h,w] feature map (masked support features or prior-weighted query features).
            text: [B,D] class-name embedding.
            prototype: [B,C] or [B,C,1,1] visual prototype.

        Returns:
            [B,C] = prototype + proj(Σ_j softmax_j(score) · W_k keys_j). Every position takes part in
            the softmax, masked (zero) ones included, as in the official code.
        """
        b, c = keys.shape[:2]
        proto = prototype.reshape(b, c)
        k = self.w_k(keys).flatten(2).transpose(1, 2)  # [B,hw,C]
        q = self.w_q(torch.cat([text, proto], dim=1)).unsqueeze(1)  # [B,1,C]
        score = torch.bmm(torch.matmul(q, self.weight), k.transpose(1, 2))  # [B,1,hw]
        attended = torch.bmm(torch.softmax(score, dim=-1), k)  # [B,1,C]
        return self.dropout(self.proj(attended)).squeeze(1) + proto
