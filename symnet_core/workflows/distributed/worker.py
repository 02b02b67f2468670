"""What a distributed worker needs to predict without the project: :class:`WorkerSpec` and :class:`PredictWorker`.

The driver builds a :class:`WorkerSpec` (model options, each class's supports and adapted head,
the images root) and ships it to every worker once. :class:`PredictWorker` is the callable class
Ray Data's ``map_batches`` runs in each actor: it loads the model from the checkpoint path
**once**, sets every class's supports **once**, then decodes and predicts batches of image
paths, returning each image's mask as PNG bytes. No Ray import here: the class is plain Python
(and is tested in-process too).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from symnet_core.workflows.prediction_steps import ClassJob, LabelResult, binary_mask, predict_batch, predict_labels

__all__ = ["ClassSpec", "ModelOptions", "PredictWorker", "WorkerSpec", "decode_mask", "encode_mask"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelOptions:
    """Arguments of :func:`symnet_core.inference.loading.load_predictor`, resolved on the driver."""

    checkpoint: str
    device: str = "auto"
    threshold: float = 0.5
    meta_only: bool = False
    word2vec: str | None = None
    allow_download: bool = False
    precision: str = "fp32"


@dataclass
class ClassSpec:
    """One class to predict: its supports (``H x W x 3`` uint8 RGB, ``H x W`` bool) and adapted head."""

    class_id: int
    name: str
    images: list[np.ndarray]
    masks: list[np.ndarray]
    head: tuple[dict[str, Any], dict[str, Any]] | None = None  # (state, metadata) of an adapted head


@dataclass
class WorkerSpec:
    """Everything a worker needs; pickled once per actor.

    ``mode``: ``"project"`` (index masks of ``dtype``, classes combined with ``threshold`` as in
    the serial path) or ``"binary"`` (folder-to-folder: one class, 0/255 uint8 masks).
    Image paths in batches are relative to ``root`` (a folder every worker can read).
    """

    model: ModelOptions
    classes: list[ClassSpec]
    root: str
    mode: str = "project"
    threshold: float | None = None
    max_side: int | None = 1024
    dtype: str = "uint8"
    threads: int = 1


def encode_mask(mask: np.ndarray) -> bytes:
    """Lossless PNG bytes of an ``H x W`` uint8/uint16 mask (fast compression: it only travels)."""
    ok, buf = cv2.imencode(".png", mask, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError(f"PNG encoding failed for a {mask.shape} {mask.dtype} mask")
    return buf.tobytes()


def decode_mask(data: bytes) -> np.ndarray:
    """Inverse of :func:`encode_mask`: the ``H x W`` mask with its dtype."""
    mask = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ValueError("undecodable mask PNG")
    return mask


def build_jobs(spec: WorkerSpec) -> list[ClassJob]:
    """Load the model once and set every class's supports once (one predictor per class, shared weights)."""
    from symnet_core.inference.loading import load_predictor

    o = spec.model
    loaded = load_predictor(
        o.checkpoint, device=o.device, threshold=o.threshold, meta_only=o.meta_only, word2vec=o.word2vec,
        allow_download=o.allow_download, precision=o.precision,
    )
    jobs = []
    for c in spec.classes:
        p: Any = loaded.new_predictor()
        if c.head is not None:
            p.load_head(*c.head)
        p.set_supports(c.images, c.masks, c.name)
        jobs.append(ClassJob(c.class_id, c.name, p))
    return jobs


class PredictWorker:
    """Ray Data callable class: ``{"key": [...]}`` batch in, ``{"key", "png", "confidence", "error", "kind"}`` out.

    ``kind`` is ``"ok"``, ``"failed"`` (prediction error) or ``"unreadable"`` (decoding error);
    ``png`` is empty unless ``ok``. Keys are paths relative to ``spec.root``.
    """

    def __init__(self, spec: WorkerSpec) -> None:
        if spec.threads > 0:
            import torch

            torch.set_num_threads(spec.threads)
            os.environ.setdefault("OMP_NUM_THREADS", str(spec.threads))
        cv2.setNumThreads(max(1, spec.threads))
        self.spec = spec
        self.root = Path(spec.root)
        self.dtype = np.dtype(spec.dtype).type
        self.jobs = build_jobs(spec)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from symnet_core.io.images import ImageReadError, read_image

        keys = [str(k) for k in batch["key"]]
        out: dict[str, list[Any]] = {"key": [], "png": [], "confidence": [], "error": [], "kind": [], "embedding": []}

        def emit(key: str, kind: str, png: bytes = b"", conf: float = 0.0, error: str = "",
                 embedding: np.ndarray | None = None) -> None:
            vec = b"" if embedding is None else np.asarray(embedding, np.float32).tobytes()  # float32 [C] as bytes
            for name, value in zip(out, (key, png, conf, error, kind, vec), strict=True):
                out[name].append(value)

        images = []
        for key in keys:
            try:
                images.append((key, read_image(self.root / key, max_side=self.spec.max_side)))
            except ImageReadError as exc:
                emit(key, "unreadable", error=exc.reason)
        for res in self._predict(images):
            if res.label is None:
                emit(res.key, "failed", error=res.error or "")
            else:
                emit(res.key, "ok", encode_mask(res.label), res.confidence, embedding=res.embedding)
        return {
            "key": np.array(out["key"], dtype=object),
            "png": np.array(out["png"], dtype=object),
            "confidence": np.array(out["confidence"], dtype=np.float64),
            "error": np.array(out["error"], dtype=object),
            "kind": np.array(out["kind"], dtype=object),
            "embedding": np.array(out["embedding"], dtype=object),
        }

    def _predict(self, images: list[tuple[str, Any]]) -> list[LabelResult]:
        if self.spec.mode == "project":
            return predict_labels(images, self.jobs, self.spec.threshold, self.dtype)
        try:  # folder-to-folder: the single class's own mask, 0/255
            preds = predict_batch([img.rgb for _, img in images], self.jobs) if images else []
        except Exception as exc:
            return [LabelResult(k, None, error=f"{type(exc).__name__}: {exc}") for k, _ in images]
        return [
            LabelResult(k, binary_mask(p[0], img.full_size), float(p[0].score))
            for (k, img), p in zip(images, preds, strict=True)
        ]
