"""Propagating the supports' masks to the other images of a project — model-agnostic.

:func:`propagate_project` drives any predictor that follows :class:`PredictorLike` (the
real ``symnet_core.Predictor``, or a fake in tests) over a project, one image at a time, and
stores every result as soon as it is ready.

Classes and predictors
    Each class with at least one support (a ``support`` image whose mask contains the class id)
    gets its own predictor, set up **once** with that class's supports (binary masks) and its
    name as the text prompt; each target image is then predicted by every class's predictor
    before moving on. Pass either

    * a **factory** ``() -> predictor`` (recommended): called once per class, then
      ``set_supports`` is called on each new predictor;
    * a **mapping** ``{class_id: predictor}`` of predictors *already set up* by the caller
      (``set_supports`` is not called; the caller vouches that they match the project);
    * a **single predictor**: fine for one class; with several classes its supports are
      re-encoded for every class of every image (correct, but slower; logged once).

Adapted heads
    With a factory, a class that has an adapted head in the project (made by
    :func:`symnet_core.adaptation.class_heads.adapt_class` from the same checkpoint) gets it loaded
    into its predictor; the head's digest is part of the run's fingerprint.

Overlaps
    A pixel is a candidate for class ``c`` when its probability is ``>= threshold`` (or, with
    ``threshold=None``, where the predictor's own ``Prediction.mask`` is True). Among the
    candidates the highest probability wins. Only the image being processed is held in memory.

What is never overwritten
    Whatever the scope, only ``unlabelled``, ``predicted`` and ``rejected`` images are written
    (``PROPAGATION_WRITABLE``); ``support``, ``accepted`` and ``edited`` masks are reported as
    ``skipped_protected``, including images the user paints *while* the run is going.

Scopes
    ``"unlabelled"``: images with status ``unlabelled``. ``"selected"``: the given keys.
    ``"all"``: every image. Missing image files are never targets.

Crash safety and resuming
    Each result is written (mask PNG + journaled record) before the next image starts, so a
    crash or ``kill -9`` loses at most the image in flight. A run is recorded in the project
    with a fingerprint of its inputs (classes, supports, scope, threshold, model). Starting the
    same propagation again while the latest run is unfinished (cancelled, crashed, failed)
    **resumes** it: images already predicted by that run are skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symnet_core.adaptation.class_heads import apply_adapted_head, head_digest
from symnet_core.inference.upsample import bands, resize_rows_linear, resize_rows_nearest
from symnet_core.project import ImageStatus, Project, ProjectWriteError, RunRecord
from symnet_core.project.schema import now_iso
from symnet_core.project.status import PROPAGATION_WRITABLE
from symnet_core.workflows.batch_loader import BatchLoader
from symnet_core.workflows.contracts import (
    PredictionLike,
    PredictorLike,
    PredictorSource,
    PropagationError,
    PropagationReport,
    UnusableSupportError,
)
from symnet_core.workflows.supports import load_class_supports

__all__ = [
    "PredictionLike",
    "PredictorLike",
    "PropagationError",
    "PropagationReport",
    "load_class_supports",
    "propagate_project",
]

log = logging.getLogger(__name__)

SCOPES = ("unlabelled", "selected", "all")


@dataclass
class _ClassJob:
    class_id: int
    name: str
    predictor: PredictorLike
    supports: tuple[list[np.ndarray], list[np.ndarray]] | None = None  # kept only for a shared predictor


def _is_predictor(obj: object) -> bool:
    if isinstance(obj, type):  # a predictor class is a factory, not an instance
        return False
    return callable(getattr(obj, "predict", None)) and callable(getattr(obj, "set_supports", None))


def _fingerprint(
    project: Project,
    class_ids: Sequence[int],
    scope: str,
    selected: Sequence[str] | None,
    threshold: float | None,
    model: str,
    max_side: int | None,
) -> str:
    sup = {
        str(cid): [project.class_by_id(cid).name, sorted((r.path, r.updated or "") for r in project.supports(cid))]
        for cid in class_ids
    }
    heads = {str(cid): head_digest(project, cid) for cid in class_ids}
    blob = json.dumps([sup, scope, sorted(selected or []), threshold, model, max_side, heads], sort_keys=True)
    return hashlib.sha1(blob.encode(), usedforsecurity=False).hexdigest()[:16]


def _targets(project: Project, scope: str, selected: Sequence[str] | None, report: PropagationReport) -> list[str]:
    if scope == "selected":
        if selected is None:
            raise ValueError("scope='selected' needs the selected image keys")
        unknown = [k for k in selected if k not in project]
        if unknown:
            raise ValueError(f"selected images not in the project: {unknown[:5]}")
        records = [project.image(k) for k in dict.fromkeys(selected)]
    else:
        records = project.images
    keys = []
    for rec in records:
        if rec.missing:
            continue
        if scope == "unlabelled" and rec.status is not ImageStatus.UNLABELLED:
            continue
        if rec.status not in PROPAGATION_WRITABLE:
            report.skipped_protected.append(rec.path)
            continue
        keys.append(rec.path)
    return keys


def _predict_batch(rgbs: Sequence[np.ndarray], jobs: Sequence[_ClassJob]) -> list[list[PredictionLike]]:
    """Every class's prediction for every image: ``out[image][job]``.

    Predictors with ``predict_many`` get the whole batch at once (one batched forward pass).
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


def _combine(
    preds: Sequence[PredictionLike],
    rgb_shape: tuple[int, ...],
    full_size: tuple[int, int],
    jobs: Sequence[_ClassJob],
    threshold: float | None,
    dtype: type[np.unsignedinteger[Any]],
) -> tuple[np.ndarray, float]:
    """One image's class predictions → the full-size index mask and the confidence (min score).

    Probabilities stay at the resolution the predictor returned (``rgb_shape``); the full-size
    ``H x W`` label is filled a band of rows at a time (:mod:`symnet_core.inference.upsample`),
    so memory is the label mask plus a few MB whatever the image size (a 300 MP image used to
    need ~3 GB of full-size float32 maps).
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


def _setup_jobs(
    project: Project,
    predictors: PredictorSource,
    supports: dict[int, tuple[list[np.ndarray], list[np.ndarray]]],
    names: dict[int, str],
    report: PropagationReport,
) -> list[_ClassJob]:
    jobs = []
    if isinstance(predictors, Mapping):
        for cid in supports:
            if cid not in predictors:
                raise PropagationError(f"no predictor given for class {cid} ('{names[cid]}')")
            jobs.append(_ClassJob(cid, names[cid], predictors[cid]))
    elif _is_predictor(predictors):
        shared = len(supports) > 1
        if shared:
            log.warning(
                "one predictor for %d classes: supports are re-encoded per class and image; pass a factory to avoid it",
                len(supports),
            )
        for cid, (imgs, msks) in supports.items():
            if not shared:
                _set_supports(predictors, imgs, msks, names[cid])
            jobs.append(_ClassJob(cid, names[cid], predictors, (imgs, msks) if shared else None))  # type: ignore[arg-type]
    elif callable(predictors):
        for cid, (imgs, msks) in supports.items():
            p = predictors()
            if apply_adapted_head(project, cid, p, report.warnings):
                report.adapted_classes.append(cid)
            _set_supports(p, imgs, msks, names[cid])
            jobs.append(_ClassJob(cid, names[cid], p))
    else:
        raise TypeError("predictors must be a predictor, a factory, or a {class_id: predictor} mapping")
    return jobs


def _set_supports(predictor: Any, imgs: list[np.ndarray], msks: list[np.ndarray], name: str) -> None:
    try:
        predictor.set_supports(imgs, msks, name)
    except ValueError as exc:
        raise UnusableSupportError(f"class '{name}': {exc}") from exc


def propagate_project(
    project: Project,
    predictors: PredictorSource,
    scope: str = "unlabelled",
    selected: Sequence[str] | None = None,
    threshold: float | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: Any = None,
    *,
    max_side: int | None = 1024,
    model_name: str | None = None,
    resume: bool = True,
    max_consecutive_failures: int = 5,
    batch_size: int = 1,
    loader_workers: int = 0,
) -> PropagationReport:
    """Predict masks for the images in ``scope`` and store each one as soon as it is ready.

    Args:
        project: an open, writable project.
        predictors: factory, ``{class_id: predictor}`` mapping or one predictor (module doc).
        scope: ``"unlabelled"``, ``"selected"`` (with ``selected`` keys) or ``"all"``.
        threshold: probability threshold in [0, 1]; ``None`` uses each prediction's own mask.
        progress: ``progress(done, total, key)`` after each image (from this thread).
        cancel: an object with ``is_set()`` (``threading.Event``), checked between batches.
        max_side: images are decoded with their long side <= ``max_side`` for the model (the
            model works at <= 641 px, larger decodes are wasted); results are resized back to
            the full image size. ``None`` decodes at full resolution.
        model_name: recorded with each prediction and part of the run's fingerprint; default
            ``predictor.model_id`` (give your predictor one: checkpoint name + hash) or its type.
        resume: continue the latest run if it is unfinished and has the same inputs.
        max_consecutive_failures: stop (``PropagationError``) after this many predictor errors
            in a row; isolated failures are reported and skipped.
        batch_size: images decoded and predicted together (one batched forward pass per class
            when the predictor has ``predict_many``); results are still saved one by one, so a
            crash loses at most the batch in flight. A failing batch is retried image by image.
        loader_workers: threads that decode the next batches while the model works on the
            current one (at most two batches ahead, so memory stays bounded); 0 decodes in this
            thread. Worth it when the model is fast (GPU) and decoding is the bottleneck; results
            are identical either way.

    Raises:
        PropagationError: no usable support, or the predictor kept failing.
        ProjectWriteError: a result could not be saved (disk full...); earlier results are kept
            and calling again resumes.
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if loader_workers < 0:
        raise ValueError(f"loader_workers must be >= 0, got {loader_workers}")
    t0 = time.monotonic()
    names = {c.id: c.name for c in project.classes}
    report = PropagationReport(run_id="", scope=scope)
    supports = load_class_supports(project, list(names), max_side, report)
    for cid, name in names.items():
        if cid not in supports:
            report.warnings.append(f"class '{name}' has no support with painted pixels; not propagated")
    if not supports:
        raise PropagationError("no support masks: paint at least one image and mark it as a support")
    report.classes = sorted(supports)
    jobs = _setup_jobs(project, predictors, supports, names, report)
    del supports
    model = model_name or _model_name(jobs[0].predictor)
    fp = _fingerprint(project, report.classes, scope, selected, threshold, model, max_side)
    run = _start_or_resume(project, fp, scope, model, threshold, report, resume)
    keys = _targets(project, scope, selected, report)
    if report.resumed:
        done = {
            k for k in keys if project.image(k).run_id == run.id and project.image(k).status is ImageStatus.PREDICTED
        }
        report.skipped_done = [k for k in keys if k in done]
        keys = [k for k in keys if k not in done]
    report.total = len(keys)
    try:
        _run_loop(
            project, jobs, keys, run, report, threshold, progress, cancel, max_side, model, max_consecutive_failures,
            batch_size, loader_workers,
        )
    except BaseException:
        _finish(project, run, "failed", report)
        raise
    report.elapsed_s = time.monotonic() - t0
    _finish(project, run, "cancelled" if report.cancelled else "finished", report)
    log.info("propagation %s: %s", run.id, report.summary())
    return report


def _run_loop(
    project: Project,
    jobs: Sequence[_ClassJob],
    keys: Sequence[str],
    run: RunRecord,
    report: PropagationReport,
    threshold: float | None,
    progress: Callable[[int, int, str], None] | None,
    cancel: Any,
    max_side: int | None,
    model: str,
    max_failures: int,
    batch_size: int = 1,
    loader_workers: int = 0,
) -> None:
    failures_in_row = 0
    done = 0
    chunks = [keys[i : i + batch_size] for i in range(0, len(keys), batch_size)]
    with BatchLoader(project, chunks, max_side, loader_workers) as loader:
        for chunk in chunks:
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            images = []
            for key, img, exc in loader.next_batch():
                if img is None:
                    report.unreadable[key] = exc.reason  # type: ignore[union-attr]
                    log.warning("%s", exc)
                else:
                    images.append((key, img))
            failures_in_row = _predict_and_store(
                project, jobs, images, run, report, threshold, model, max_failures, failures_in_row
            )
            del images
            for key in chunk:
                done += 1
                if progress is not None:
                    progress(done, len(keys), key)


def _predict_and_store(
    project: Project,
    jobs: Sequence[_ClassJob],
    images: list[tuple[str, Any]],
    run: RunRecord,
    report: PropagationReport,
    threshold: float | None,
    model: str,
    max_failures: int,
    failures_in_row: int,
) -> int:
    """Predict one decoded batch with every class's predictor and store each result; returns the
    number of consecutive failures so far."""
    try:
        batch_preds = _predict_batch([img.rgb for _, img in images], jobs) if images else []
    except Exception as exc:  # a failing batch is retried image by image to isolate the culprit
        if len(images) <= 1:
            batch_preds = None
            batch_error: Exception | None = exc
        else:
            log.warning("batch prediction failed (%s); retrying one image at a time", exc)
            batch_preds, batch_error = [], None
            for _, img in images:
                try:
                    batch_preds.append(_predict_batch([img.rgb], jobs)[0])
                except Exception as one_exc:
                    batch_preds.append(one_exc)  # type: ignore[arg-type]
    else:
        batch_error = None
    for idx, (key, img) in enumerate(images):
        preds = batch_error if batch_preds is None else batch_preds[idx]
        try:
            if isinstance(preds, Exception):
                raise preds
            label, conf = _combine(preds, img.rgb.shape, img.full_size, jobs, threshold, project.mask_dtype)
        except Exception as exc:  # a predictor error on one image must not end the batch
            failures_in_row += 1
            report.failed[key] = f"{type(exc).__name__}: {exc}"
            log.error("prediction failed for %s: %s", key, report.failed[key], exc_info=exc)
            if failures_in_row >= max_failures:
                raise PropagationError(
                    f"the predictor failed on {failures_in_row} images in a row; last: {report.failed[key]}"
                ) from exc
            continue
        failures_in_row = 0
        if project.store_prediction(key, label, confidence=conf, model=model, run_id=run.id):
            report.predicted.append(key)
        else:
            report.skipped_protected.append(key)
    return failures_in_row


def _model_name(predictor: PredictorLike) -> str:
    """``predictor.model_id`` (or ``.name``) when it is a string, else the predictor's type name."""
    name = getattr(predictor, "model_id", None) or getattr(predictor, "name", None)
    return name if isinstance(name, str) else type(predictor).__name__


def _start_or_resume(
    project: Project, fp: str, scope: str, model: str, threshold: float | None, report: PropagationReport, resume: bool
) -> RunRecord:
    runs = project.runs
    last = runs[-1] if runs else None
    if resume and last is not None and last.state != "finished" and last.fingerprint == fp:
        report.resumed = True
        report.run_id = last.id
        log.info("resuming propagation run %s (was %s)", last.id, last.state)
        return project.update_run(last.id, state="running", finished=None)
    run = project.start_run(
        scope=scope, fingerprint=fp, model=model, threshold=threshold, classes=tuple(report.classes)
    )
    report.run_id = run.id
    return run


def _finish(project: Project, run: RunRecord, state: str, report: PropagationReport) -> None:
    try:
        produced = sum(1 for r in project.images if r.run_id == run.id)  # includes earlier attempts
        project.update_run(run.id, state=state, finished=now_iso(), predicted=produced)
        project.save_if_dirty()
    except ProjectWriteError as exc:  # the journal already holds every stored result
        log.warning("could not record the end of run %s: %s", run.id, exc)
