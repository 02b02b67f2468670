"""The model side of propagation, shared by every engine (serial, Ray workers, shards).

Nothing here touches a project: images in, index masks out. Keeping these steps in one place is
what makes the engines' masks byte-identical (same resizing, same dtype, same threshold rule).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from symnet_core.inference.upsample import bands, resize_rows_linear, resize_rows_nearest
from symnet_core.workflows.contracts import PredictionLike, PredictorLike

__all__ = ["ClassJob", "LabelResult", "binary_mask", "combine", "predict_batch", "predict_labels"]

log = logging.getLogger(__name__)


@dataclass
class ClassJob:
    """One class's predictor, already set up with that class's supports."""

    class_id: int
    name: str
    predictor: PredictorLike
    supports: tuple[list[np.ndarray], list[np.ndarray]] | None = None  # kept only for a shared predictor


@dataclass
class LabelResult:
    """One image's outcome: ``label`` (``H x W`` index mask at the image's full size, the project's
    mask dtype) and ``confidence`` (min class score), or ``error`` (``"Type: message"``)."""

    key: str
    label: np.ndarray | None
    confidence: float = 0.0
    error: str | None = None
    #: float32 ``[C]`` appearance embedding of the image (the first class's prediction carries
    #: it, :attr:`symnet_core.inference.types.Prediction.embedding`), or ``None``.
    embedding: np.ndarray | None = None


def predict_batch(rgbs: Sequence[np.ndarray], jobs: Sequence[ClassJob]) -> list[list[PredictionLike]]:
    """Every class's prediction for every image: ``out[image][job]``.

    ``rgbs``: ``H x W x 3`` uint8 RGB images (decoded at the model's size). Predictors with
    ``predict_many`` get the whole batch at once (one batched forward pass).
    """
    per_job = []
    for job in jobs:
        if job.supports is not None:  # one predictor shared by several classes
            job.predictor.set_supports(job.supports[0], job.supports[1], job.name)
        many = getattr(job.predictor, "predict_many", None)
        if len(rgbs) > 1 and callable(many):
            per_job.append(list(many(list(rgbs), batch_size=len(rgbs))))
        else:
            per_job.append([job.predictor.predict(rgb) for rgb in rgbs])
    return [[preds[i] for preds in per_job] for i in range(len(rgbs))]


def combine(
    preds: Sequence[PredictionLike],
    rgb_shape: tuple[int, ...],
    full_size: tuple[int, int],
    jobs: Sequence[ClassJob],
    threshold: float | None,
    dtype: type[np.unsignedinteger[Any]],
) -> tuple[np.ndarray, float]:
    """One image's class predictions → the full-size index mask and the confidence (min score).

    ``full_size`` is ``(w, h)``; the mask is ``h x w`` of ``dtype``. A pixel is a candidate for a
    class when its probability is ``>= threshold`` (``None``: the prediction's own mask); the
    most probable candidate wins. Probabilities stay at the resolution the predictor returned
    (``rgb_shape``); the full-size label is filled a band of rows at a time
    (:mod:`symnet_core.inference.upsample`), so memory is the label mask plus a few MB whatever the
    image size (a 300 MP image used to need ~3 GB of full-size float32 maps).
    """
    w, h = full_size
    label = np.zeros((h, w), dtype=dtype)
    probs, smalls, scores = [], [], []
    for pred in preds:
        prob = np.asarray(pred.probability, dtype=np.float32)
        if prob.shape != tuple(rgb_shape[:2]):
            raise ValueError(f"predictor returned a {prob.shape} probability for a {tuple(rgb_shape[:2])} image")
        probs.append(prob)
        smalls.append(np.asarray(pred.mask, dtype=bool) if threshold is None else None)
        scores.append(float(pred.score))
    for y0, y1 in bands(h, w):
        best = np.full((y1 - y0, w), -1.0, dtype=np.float32)
        out = label[y0:y1]
        for job, prob, small in zip(jobs, probs, smalls, strict=True):
            p = prob[y0:y1] if prob.shape == (h, w) else resize_rows_linear(prob, w, h, y0, y1)
            if small is None:
                cand = p >= threshold
            elif small.shape == (h, w):
                cand = small[y0:y1]
            else:
                cand = resize_rows_nearest(small, w, h, y0, y1)
            upd = cand & (p > best)
            best[upd] = p[upd]
            out[upd] = job.class_id
    return label, min(scores)


def binary_mask(pred: PredictionLike, full_size: tuple[int, int]) -> np.ndarray:
    """Folder-to-folder output: the prediction's own mask as ``h x w`` uint8 0/255 at ``full_size=(w, h)``."""
    mask = np.asarray(pred.mask).astype(np.uint8) * 255
    if (mask.shape[1], mask.shape[0]) != tuple(full_size):
        mask = cv2.resize(mask, tuple(full_size), interpolation=cv2.INTER_NEAREST)
    return mask


def predict_labels(
    images: Sequence[tuple[str, Any]],
    jobs: Sequence[ClassJob],
    threshold: float | None,
    dtype: type[np.unsignedinteger[Any]],
) -> list[LabelResult]:
    """Predict one decoded batch (``(key, LoadedImage)`` pairs) with every class's predictor.

    A failing batch is retried image by image to isolate the culprit; each image's failure is
    reported in its :class:`LabelResult`, never raised.
    """
    rgbs = [img.rgb for _, img in images]
    per_image: list[Any]
    try:
        per_image = predict_batch(rgbs, jobs) if images else []
    except Exception as exc:
        if len(images) <= 1:
            per_image = [exc]
        else:
            log.warning("batch prediction failed (%s); retrying one image at a time", exc)
            per_image = []
            for rgb in rgbs:
                try:
                    per_image.append(predict_batch([rgb], jobs)[0])
                except Exception as one_exc:
                    per_image.append(one_exc)
    out = []
    for (key, img), preds in zip(images, per_image, strict=True):
        try:
            if isinstance(preds, Exception):
                raise preds
            label, conf = combine(preds, img.rgb.shape, img.full_size, jobs, threshold, dtype)
        except Exception as exc:  # a predictor error on one image must not end the batch
            out.append(LabelResult(key, None, error=f"{type(exc).__name__}: {exc}"))
            continue
        embedding = getattr(preds[0], "embedding", None) if preds else None
        out.append(LabelResult(key, label, conf, embedding=embedding))
    return out
