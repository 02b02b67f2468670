"""Sym-Net training losses.

total = main + w·(aux1 + aux2 + aux3 + triplet), w = ``aux_weight`` (1.0):

* main = CE(final, y) — ``final`` holds linear mixes of probabilities used as logits, as in the
  official code; aux1 = CE(meta, y); aux2 = CE(base, y_base) (frozen base learner: a constant,
  kept for the logged figure); aux3 = mean over pyramid levels of CE(upsampled level logits, y).
  All CEs ignore label 255.
* triplet = support part + query part, on L2-normalised vectors with Euclidean distances and a
  margin (0.5):
  - support, per shot and image: anchor = t_s (shot-weighted support APA output), positives =
    support mid features at the mask==1 positions of the nearest-resized mask, negatives = the
    features at mask==0 averaged into one vector after normalisation; loss =
    max(0, margin + max_pos d(a, p) − d(a, mean_neg)) (hardest positive). Images without
    foreground or background on the grid are skipped; mean over valid images, then over shots.
  - query, per image: anchor = t_q, positive = ambiguous-region prototype, negative = background
    prototype; max(0, margin + d(a, p) − d(a, n)); mean over the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from symnet_core.inference.transforms import IGNORE_LABEL
from symnet_core.model.prototypes import QueryPrototypes
from symnet_core.model.symnet import SupportEncoding, SymNetOutput

__all__ = ["LossTerms", "query_triplet", "segmentation_ce", "support_triplet", "symnet_loss"]


@dataclass
class LossTerms:
    """Scalar loss tensors of one step; ``total`` is the one to back-propagate."""

    total: torch.Tensor
    main: torch.Tensor
    aux1: torch.Tensor
    aux2: torch.Tensor
    aux3: torch.Tensor
    triplet: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {k: float(getattr(self, k).detach()) for k in ("total", "main", "aux1", "aux2", "aux3", "triplet")}


def segmentation_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of [B,C,H,W] logits against [B,H,W] labels, ignoring 255 (upsamples if needed)."""
    if logits.shape[-2:] != target.shape[-2:]:
        logits = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=True)
    return F.cross_entropy(logits.float(), target.long(), ignore_index=IGNORE_LABEL)


def _unit(x: torch.Tensor, dim: int) -> torch.Tensor:
    return F.normalize(x.float(), p=2, dim=dim, eps=1e-12)


def support_triplet(
    anchor: torch.Tensor, shots: Sequence[SupportEncoding], support_labels: torch.Tensor, margin: float
) -> torch.Tensor:
    """Support part of the triplet loss.

    Args:
        anchor: [B,C] shot-weighted support APA output (``aux["support_text"]``).
        shots: the K encoded supports (``mid`` [B,C,f,f] each).
        support_labels: [B,K,S,S] labels (1 object, 0 background, 255 ignore).
        margin: triplet margin.
    """
    a = _unit(anchor, 1)  # [B,C]
    per_shot = []
    for k, shot in enumerate(shots):
        mid = shot.mid
        b, c, h, w = mid.shape
        lab = F.interpolate(support_labels[:, k : k + 1].float(), size=(h, w), mode="nearest").reshape(b, h * w)
        feats = _unit(mid.reshape(b, c, h * w), 1)  # [B,C,N]
        pos, neg = lab == 1, lab == 0
        dist = (feats - a[:, :, None]).norm(dim=1)  # [B,N]
        hardest = dist.masked_fill(~pos, float("-inf")).max(dim=1).values
        n_neg = neg.sum(dim=1)
        mean_neg = (feats * neg[:, None]).sum(dim=2) / n_neg.clamp_min(1)[:, None]
        d_neg = (mean_neg - a).norm(dim=1)
        valid = pos.any(dim=1) & (n_neg > 0)
        if bool(valid.any()):
            per_shot.append(F.relu(margin + hardest[valid] - d_neg[valid]).mean())
    if not per_shot:
        return anchor.new_zeros(())
    return torch.stack(per_shot).mean()


def query_triplet(anchor: torch.Tensor, prototypes: QueryPrototypes, margin: float) -> torch.Tensor:
    """Query part: anchor t_q [B,C], positive = ambiguous prototype, negative = background prototype."""
    a = _unit(anchor, 1)
    p = _unit(prototypes.ambiguous.reshape(a.shape), 1)
    n = _unit(prototypes.background.reshape(a.shape), 1)
    return F.relu(margin + (a - p).norm(dim=1) - (a - n).norm(dim=1)).mean()


def symnet_loss(
    out: SymNetOutput,
    shots: Sequence[SupportEncoding],
    y: torch.Tensor,
    y_base: torch.Tensor | None,
    support_labels: torch.Tensor,
    *,
    aux_weight: float = 1.0,
    margin: float = 0.5,
    triplet: bool = True,
) -> LossTerms:
    """All terms for one batch.

    Args:
        out: ``decode(..., return_aux=True)`` output (``final``/``meta``/``base`` at S×S).
        shots: the encoded supports. y: [B,S,S] query labels 0/1/255. y_base: [B,S,S] base labels,
            or ``None`` (test-time adaptation: no base labels; aux2 = 0).
        support_labels: [B,K,S,S].
    """
    main = segmentation_ce(out.final, y)
    aux1 = segmentation_ce(out.meta, y)
    with torch.no_grad():
        has_base = y_base is not None and out.base.shape[1] > 0
        aux2 = segmentation_ce(out.base, y_base) if has_base else main.new_zeros(())
    inner = out.aux["inner_logits"]
    assert isinstance(inner, list)
    aux3 = torch.stack([segmentation_ce(level, y) for level in inner]).mean()
    if triplet:
        protos = out.aux["query_prototypes"]
        assert isinstance(protos, QueryPrototypes)
        q_text, s_text = out.aux["query_text"], out.aux["support_text"]
        assert isinstance(q_text, torch.Tensor)
        assert isinstance(s_text, torch.Tensor)
        trip = support_triplet(s_text, shots, support_labels, margin) + query_triplet(q_text, protos, margin)
    else:
        trip = main.new_zeros(())
    total = main + aux_weight * (aux1 + aux2 + aux3 + trip)
    return LossTerms(total, main, aux1, aux2, aux3, trip)
