"""What propagation promises and expects: the predictor protocol, the report, the error.

Kept apart from :mod:`symnet_core.workflows.propagation` so that callers that only need these
(adaptation, the distributed engine, the GUI service) import no propagation machinery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["PredictionLike", "PredictorLike", "PredictorSource", "PropagationError", "PropagationReport"]


class PredictionLike(Protocol):
    """What ``predict`` returns. All arrays are at the size of the image passed to ``predict``.

    ``probability``: ``H x W`` float32 foreground probability in [0, 1]; ``mask``: ``H x W`` bool;
    ``score``: confidence of the whole prediction (higher is more confident).
    """

    probability: np.ndarray
    mask: np.ndarray
    score: float


@runtime_checkable
class PredictorLike(Protocol):
    """The predictor interface propagation needs (``symnet_core.Predictor`` follows it)."""

    def set_supports(self, images: list[np.ndarray], masks: list[np.ndarray], class_name: str) -> None:
        """``images``: ``H x W x 3`` uint8 RGB; ``masks``: ``H x W`` bool, same sizes."""

    def predict(self, image: np.ndarray) -> PredictionLike:
        """``image``: ``H x W x 3`` uint8 RGB (oriented frame)."""


PredictorSource = PredictorLike | Callable[[], PredictorLike] | Mapping[int, PredictorLike]


class PropagationError(RuntimeError):
    """Propagation cannot start (no supports...) or had to stop (predictor keeps failing)."""


class UnusableSupportError(PropagationError, ValueError):
    """A class's supports are refused by the predictor (object too small...): propagation cannot
    start. Also a ValueError, which is what ``Predictor.set_supports`` raises."""


@dataclass
class PropagationReport:
    """Outcome of one call of :func:`propagate_project` (keys are image paths)."""

    run_id: str
    scope: str
    resumed: bool = False
    classes: list[int] = field(default_factory=list)
    total: int = 0
    predicted: list[str] = field(default_factory=list)
    skipped_protected: list[str] = field(default_factory=list)
    skipped_done: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    cancelled: bool = False
    elapsed_s: float = 0.0
    adapted_classes: list[int] = field(default_factory=list)

    def summary(self) -> str:
        """One line for a status bar or the CLI."""
        parts = [f"{len(self.predicted)}/{self.total} predicted"]
        if self.skipped_done:
            parts.append(f"{len(self.skipped_done)} already done (resumed)")
        if self.skipped_protected:
            parts.append(f"{len(self.skipped_protected)} human-verified kept")
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} unreadable")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.adapted_classes:
            parts.append(f"adapted head used for {len(self.adapted_classes)} class(es)")
        if self.cancelled:
            parts.append("cancelled")
        return ", ".join(parts) + f" in {self.elapsed_s:.1f} s"
