"""Plain data that crosses the core's boundary (numpy arrays and frozen dataclasses only)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Prediction:
    """One query's result, in the frame of the image as given (original size, after EXIF rotation).

    Attributes:
        probability: float32 HxW foreground probability in [0,1]. For the ensemble it is the
            softmax of the final two-channel output (so 0.5 is the authors' argmax boundary); with
            ``use_base_learner=False`` the softmax of the meta-learner logits.
        mask: bool HxW, ``probability > threshold``.
        score: confidence in [0,1] (see :func:`symnet_core.inference.predictor.confidence_score`): how far
            the probabilities of the predicted object and its surroundings are from the threshold.
            Low scores flag images to review first.
        threshold: the threshold that made ``mask``.
        warnings: human-readable notes about this prediction (e.g. supports fused).
        embedding: float32 ``[C]`` unit-length appearance vector of the query image (its pooled
            layer-4 backbone features, :mod:`symnet_core.inference.embedding`), or ``None``.
    """

    probability: np.ndarray
    mask: np.ndarray
    score: float
    threshold: float = 0.5
    warnings: tuple[str, ...] = field(default=())
    embedding: np.ndarray | None = None


@dataclass(frozen=True)
class SupportSummary:
    """What :meth:`Predictor.set_supports` did: how many supports, how they are fused, warnings."""

    count: int
    class_name: str | None
    fusion: str
    warnings: tuple[str, ...] = ()
