"""Which image should be annotated next: rank candidates by how much a support there would help.

After a propagation every predicted image has a confidence (:attr:`Prediction.score`) and an
appearance embedding (:attr:`Prediction.embedding`, pooled backbone features). A new support
helps most where the model is unsure *and* the image looks unlike every support so far — an
image that resembles a support is already covered by it, and a confident image needs no help.

The ranking is a greedy k-center walk, weighted by uncertainty:

* ``coverage(i)`` = distance from image ``i`` to its nearest *center* (the supports, then the
  images picked so far), Euclidean between unit embeddings, divided by the largest initial
  distance so it lies in [0, 1];
* ``priority(i)`` = ``(1 − w) · coverage(i) + w · (1 − confidence(i))`` with ``w`` =
  ``uncertainty_weight`` (a candidate without a confidence counts as fully uncertain);
* the candidate of highest priority is picked, becomes a center (so near-duplicates of it
  drop), and the walk repeats for the first ``greedy_count`` places; the rest follow by
  their priority against the final centers.

With no supports, the first pick is the most uncertain image (ties: the one farthest from the
mean embedding); it then acts as the first center. Everything is numpy; the GUI reaches it
through its inference service (:mod:`symnet_gui.services`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_UNCERTAINTY_WEIGHT", "Ranking", "rank_candidates"]

#: weight of uncertainty against coverage. 1.0 (lowest confidence first): on the synthetic benchmark
#: (``bench/bench_suggest.py``, docs/gui.md) the k-center distance term (weights 0, 0.5, 0.8) did no
#: better than random picks, while lowest confidence first gave the best folder masks.
DEFAULT_UNCERTAINTY_WEIGHT = 1.0


@dataclass(frozen=True, eq=False)
class Ranking:
    """Candidates in the order to annotate them.

    Attributes:
        order: int64 ``[N]`` candidate indices, best first (a permutation of ``range(N)``).
        priority: float32 ``[N]`` each candidate's priority at the time it was placed, indexed
            by candidate (not by rank); in [0, 1], higher = annotate sooner.
    """

    order: np.ndarray
    priority: np.ndarray


def _unit_rows(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{what}: need a [N,C] array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what}: embeddings must be finite")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _distances(points: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Euclidean distances float32 ``[N]`` from unit rows ``points`` to one unit ``center``."""
    return np.sqrt(np.clip(2.0 - 2.0 * (points @ center), 0.0, 4.0))


def rank_candidates(
    embeddings: np.ndarray,
    confidences: Sequence[float | None] | np.ndarray,
    support_embeddings: np.ndarray | None = None,
    *,
    uncertainty_weight: float = DEFAULT_UNCERTAINTY_WEIGHT,
    greedy_count: int = 100,
) -> Ranking:
    """Order candidate images for annotation (see the module docstring).

    Args:
        embeddings: float ``[N,C]`` candidate embeddings (rows are normalised here).
        confidences: ``N`` confidences in [0, 1] (``None``/NaN = unknown, counted as 0).
        support_embeddings: float ``[M,C]`` embeddings of the current supports, or ``None``/``M = 0``.
        uncertainty_weight: ``w`` in [0, 1]; 0 = pure k-center coverage, 1 = lowest confidence first.
        greedy_count: how many places the greedy walk fills (each costs ``O(N·C)``); the rest
            are ordered by priority against the final centers.

    Raises:
        ValueError: shapes disagree, non-finite embeddings, a weight outside [0, 1].
    """
    if not 0.0 <= uncertainty_weight <= 1.0:
        raise ValueError(f"uncertainty_weight must be in [0, 1], got {uncertainty_weight}")
    points = _unit_rows(embeddings, "candidates")
    n = points.shape[0]
    conf = np.array([np.nan if c is None else float(c) for c in confidences], dtype=np.float32)
    if conf.shape != (n,):
        raise ValueError(f"need one confidence per candidate: {n} candidates, {conf.size} confidences")
    uncertainty = 1.0 - np.clip(np.nan_to_num(conf, nan=0.0), 0.0, 1.0)
    if n == 0:
        return Ranking(np.zeros(0, np.int64), np.zeros(0, np.float32))
    centers = np.zeros((0, points.shape[1]), np.float32)
    if support_embeddings is not None and np.asarray(support_embeddings).size:
        centers = _unit_rows(support_embeddings, "supports")
        if centers.shape[1] != points.shape[1]:
            raise ValueError(f"supports have {centers.shape[1]} features, candidates {points.shape[1]}")
    w = float(uncertainty_weight)
    placed = np.zeros(n, bool)
    order: list[int] = []
    priority = np.zeros(n, np.float32)
    if not len(centers):
        # no support yet: the most uncertain image first (ties: the one least like the mean
        # appearance); it is the first center of the walk
        mean = points.mean(axis=0)
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
        first = int(np.argmax(uncertainty + 1e-3 * _distances(points, mean)))
        order.append(first)
        priority[first] = float(uncertainty[first])
        placed[first] = True
        centers = points[first : first + 1]
    nearest = np.min(np.sqrt(np.clip(2.0 - 2.0 * (points @ centers.T), 0.0, 4.0)), axis=1)
    scale = float(nearest.max()) if float(nearest.max()) > 0 else 1.0
    coverage = nearest / scale
    for _ in range(min(n, max(0, greedy_count)) - len(order)):
        score = np.where(placed, -np.inf, (1.0 - w) * coverage + w * uncertainty)
        pick = int(np.argmax(score))
        order.append(pick)
        priority[pick] = float((1.0 - w) * coverage[pick] + w * uncertainty[pick])
        placed[pick] = True
        coverage = np.minimum(coverage, _distances(points, points[pick]) / scale)
    rest = np.flatnonzero(~placed)
    if rest.size:
        final = (1.0 - w) * coverage[rest] + w * uncertainty[rest]
        priority[rest] = final
        order.extend(rest[np.argsort(-final, kind="stable")].tolist())
    return Ranking(np.asarray(order, np.int64), priority)
