""""Which image should I annotate next?" for a project: record embeddings, rank candidates.

Propagation keeps the appearance embedding of every image it predicts and of the supports it
used (:func:`record_embeddings`, into ``.symnet/embeddings.npz``,
:mod:`symnet_core.project.embeddings`). :func:`suggest_next` then ranks the images still
waiting for a human — ``unlabelled``, ``predicted`` and ``rejected`` — with
:func:`symnet_core.workflows.suggest.rank_candidates`: the current supports are the centers,
a prediction's stored confidence its certainty, a *rejected* prediction counts as fully
uncertain (the user said it is wrong). An image that became a support after the last
propagation keeps the vector it had as a candidate, so the ranking follows the user's new
supports without another propagation. Images without a vector (never propagated) are listed
after the ranked ones, in project order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from symnet_core.io.images import ImageReadError
from symnet_core.project import Project
from symnet_core.project.embeddings import read_embeddings, store_embeddings
from symnet_core.project.errors import ProjectWriteError
from symnet_core.project.status import ImageStatus
from symnet_core.workflows.suggest import DEFAULT_UNCERTAINTY_WEIGHT, rank_candidates

__all__ = ["CANDIDATE_STATUSES", "Suggestion", "record_embeddings", "suggest_next"]

log = logging.getLogger(__name__)

#: statuses of images a suggestion may point at (nothing a human has verified)
CANDIDATE_STATUSES = frozenset({ImageStatus.UNLABELLED, ImageStatus.PREDICTED, ImageStatus.REJECTED})


@dataclass(frozen=True)
class Suggestion:
    """Images to annotate, best first.

    Attributes:
        ranked: keys of candidates with an embedding, in suggested order.
        priorities: each ranked key's priority in [0, 1] (same order as ``ranked``).
        unranked: candidate keys without an embedding (not propagated yet), project order.
        supports_used: how many supports had a vector (the ranking's centers).
        model: the model the vectors came from ("" when there are none).
    """

    ranked: tuple[str, ...] = ()
    priorities: tuple[float, ...] = ()
    unranked: tuple[str, ...] = ()
    supports_used: int = 0
    model: str = ""

    @property
    def order(self) -> tuple[str, ...]:
        """Every candidate: ranked ones first."""
        return self.ranked + self.unranked


def record_embeddings(
    project: Project, predictor: object, model: str, vectors: Mapping[str, np.ndarray], max_side: int | None = 1024
) -> int:
    """Store ``vectors`` (image key → embedding, from a run) and embed the supports that have none.

    Supports are embedded with ``predictor.embed`` when the predictor has it (one backbone pass
    each, decoded at ``max_side``); unreadable ones are skipped. A failed write is logged (the
    cache only speeds up suggestions). Returns how many vectors were written.
    """
    vectors = dict(vectors)
    embed = getattr(predictor, "embed", None)
    cache = None
    if callable(embed):
        cache = read_embeddings(project.project_dir)
        have = cache.vectors if cache.model == model else {}
        missing = [r.path for r in project.supports() if r.path not in have and r.path not in vectors]
        images = []
        for key in missing:
            try:
                images.append((key, project.read_image(key, max_side=max_side).rgb))
            except (ImageReadError, ValueError) as exc:
                log.warning("support %s not embedded: %s", key, exc)
        if images:
            for (key, _), vec in zip(images, embed([img for _, img in images]), strict=True):
                vectors[key] = vec
    if not vectors:
        return 0
    try:
        store_embeddings(project.project_dir, model, vectors, current=cache)
    except (ProjectWriteError, ValueError) as exc:
        log.warning("embedding cache not written: %s", exc)
        return 0
    return len(vectors)


def suggest_next(
    project: Project, *, uncertainty_weight: float = DEFAULT_UNCERTAINTY_WEIGHT, greedy_count: int = 100
) -> Suggestion:
    """Rank the project's candidate images (module docstring). Reads the cache; writes nothing."""
    cache = read_embeddings(project.project_dir)
    records = project.images
    vectors = cache.vectors
    width = {v.shape[0] for v in vectors.values()}
    if len(width) > 1:  # (store_embeddings never writes this; a hand-edited file might)
        vectors, width = {}, set()
    candidates = [r for r in records if r.status in CANDIDATE_STATUSES]
    with_vec = [r for r in candidates if r.path in vectors]
    unranked = tuple(r.path for r in candidates if r.path not in vectors)
    supports = [vectors[r.path] for r in records if r.status == ImageStatus.SUPPORT and r.path in vectors]
    if not with_vec:
        return Suggestion(unranked=unranked, supports_used=len(supports), model=cache.model)
    confidences = [0.0 if r.status == ImageStatus.REJECTED else r.confidence for r in with_vec]
    ranking = rank_candidates(
        np.stack([vectors[r.path] for r in with_vec]),
        confidences,
        np.stack(supports) if supports else None,
        uncertainty_weight=uncertainty_weight,
        greedy_count=greedy_count,
    )
    ranked = tuple(with_vec[i].path for i in ranking.order)
    priorities = tuple(float(ranking.priority[i]) for i in ranking.order)
    return Suggestion(ranked, priorities, unranked, len(supports), cache.model)
