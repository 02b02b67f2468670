"""SPM: the parameter-free self-activation prior mask.

For each pooling window (5×5, 7×1, 1×7; stride 1; zero padding counted in the average) the
official code builds the full query×support similarity

    sim(i, j) = (q_i · s_j) / (‖q_i‖ ‖s_j‖ + 1e-7) · ‖q_i‖

and averages it over all support positions j. Because the average is linear in q_i, it equals
``q_i · v`` with ``v = mean_j s_j / ‖s_j‖`` (zero support vectors contribute nothing) up to the
1e-7 epsilon. :class:`SupportPriorKeys` holds the ``v`` vectors, computed once per support, so a
query costs one matrix–vector product per window instead of a 3600×3600×2048 product. Average
pooling is linear too, so ``pool(q)·v = pool(q·v)``: :func:`query_prior` takes the dot product on
the raw layer-4 map and pools the single-channel result (pooling 2048 channels three times cost
more than everything else in SPM; the two orders agree to float rounding, ~1e-6).
:func:`official_prior` keeps the literal form for tests and the per-episode reference path.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

WINDOWS: tuple[tuple[int, int], ...] = ((5, 5), (7, 1), (1, 7))
COSINE_EPS = 1e-7


def _pool(x: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    kh, kw = window
    return F.avg_pool2d(x, kernel_size=window, stride=1, padding=(kh // 2, kw // 2), count_include_pad=True)


def _min_max(a: torch.Tensor) -> torch.Tensor:
    """Min–max normalise [B,N] per row to [0,1] (denominator + 1e-7)."""
    lo = a.min(dim=1, keepdim=True).values
    hi = a.max(dim=1, keepdim=True).values
    return (a - lo) / (hi - lo + COSINE_EPS)


@dataclass
class SupportPriorKeys:
    """Per-window mean of unit support vectors, one [B,C] tensor per window (support side of SPM)."""

    keys: list[torch.Tensor]

    def select(self, index: torch.Tensor | slice) -> SupportPriorKeys:
        return SupportPriorKeys([k[index] for k in self.keys])


def support_prior_keys(support_l4: torch.Tensor, mask: torch.Tensor) -> SupportPriorKeys:
    """Support side of SPM.

    Args:
        support_l4: layer-4 support features [B,C,f,f].
        mask: support foreground mask [B,1,S,S] in {0,1} at input resolution.
    """
    f = support_l4.shape[-1]
    m = F.interpolate(mask, size=(f, f), mode="bilinear", align_corners=True)
    s = support_l4 * m
    keys = []
    for window in WINDOWS:
        pooled = _pool(s, window).flatten(2)  # [B,C,hw]
        norm = pooled.norm(dim=1, keepdim=True)
        unit = torch.where(norm > 0, pooled / norm.clamp_min(1e-30), torch.zeros_like(pooled))
        keys.append(unit.mean(dim=2))
    return SupportPriorKeys(keys)


def query_prior(query_l4: torch.Tensor, keys: SupportPriorKeys) -> torch.Tensor:
    """Prior of one shot for a batch of queries.

    Args:
        query_l4: [B,C,f,f]. keys: support keys with batch B (or 1, broadcast).

    Returns:
        [B,1,f,f] in [0,1]: mean over windows of the min–max-normalised activation
        ``pool_window(q)·v_window`` (computed as ``pool_window(q·v_window)``, module docstring).
    """
    b, _, h, w = query_l4.shape
    maps = []
    for window, v in zip(WINDOWS, keys.keys, strict=True):
        d = torch.einsum("bchw,bc->bhw", query_l4, v.expand(b, -1).to(query_l4.dtype)).unsqueeze(1)
        maps.append(_min_max(_pool(d, window).flatten(1)))
    return torch.stack(maps, dim=1).mean(dim=1).reshape(b, 1, h, w)


def official_prior(query_l4: torch.Tensor, support_l4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The literal official SPM for one shot (quadratic cost); reference for tests. Returns [B,1,f,f]."""
    b, c, h, w = query_l4.shape
    m = F.interpolate(mask, size=(h, w), mode="bilinear", align_corners=True)
    s_all = support_l4 * m
    maps = []
    for window in WINDOWS:
        s = _pool(s_all, window).reshape(b, c, -1)
        q = _pool(query_l4, window).reshape(b, c, -1).permute(0, 2, 1)
        s_norm = s.norm(dim=1, keepdim=True)
        q_norm = q.norm(dim=2, keepdim=True)
        sim = torch.matmul(q, s) / (torch.matmul(q_norm, s_norm) + COSINE_EPS) * q_norm
        maps.append(_min_max(sim.mean(dim=2)))
    return torch.stack(maps, dim=1).mean(dim=1).reshape(b, 1, h, w)


def pyramid_priors(prior: torch.Tensor, bins: tuple[int, ...]) -> list[torch.Tensor]:
    """The combined prior [B,1,f,f] at every pyramid bin (bilinear, align_corners=True)."""
    out = [prior]
    for b in bins[1:]:
        out.append(F.interpolate(prior, size=(b, b), mode="bilinear", align_corners=True))
    return out
