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

Other engines
    :mod:`symnet_core.workflows.distributed` runs the same steps on Ray actors or as scheduler
    shards; all engines share :mod:`~symnet_core.workflows.prediction_steps` (the model side)
    and :mod:`~symnet_core.workflows.run_book` (targets, run record, commit), so their masks
    are byte-identical and any engine resumes another's unfinished run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from symnet_core.adaptation.class_heads import apply_adapted_head
from symnet_core.project import Project
from symnet_core.workflows.batch_loader import BatchLoader
from symnet_core.workflows.contracts import (
    PredictionLike,
    PredictorLike,
    PredictorSource,
    PropagationError,
    PropagationReport,
    UnusableSupportError,
)
from symnet_core.workflows.next_image import record_embeddings
from symnet_core.workflows.prediction_steps import ClassJob, LabelResult, predict_labels
from symnet_core.workflows.run_book import (
    SCOPES,
    Committer,
    drop_done,
    fingerprint,
    finish_run,
    select_targets,
    start_or_resume,
)
from symnet_core.workflows.supports import load_class_supports, start_report

__all__ = [
    "PredictionLike",
    "PredictorLike",
    "PropagationError",
    "PropagationReport",
    "load_class_supports",
    "model_name_of",
    "propagate_project",
    "run_loop",
    "setup_jobs",
]

log = logging.getLogger(__name__)


def _is_predictor(obj: object) -> bool:
    if isinstance(obj, type):  # a predictor class is a factory, not an instance
        return False
    return callable(getattr(obj, "predict", None)) and callable(getattr(obj, "set_supports", None))


def setup_jobs(
    project: Project,
    predictors: PredictorSource,
    supports: dict[int, tuple[list[np.ndarray], list[np.ndarray]]],
    names: dict[int, str],
    report: PropagationReport,
) -> list[ClassJob]:
    """One :class:`ClassJob` per class with supports, from a factory, a mapping or one predictor."""
    jobs = []
    if isinstance(predictors, Mapping):
        for cid in supports:
            if cid not in predictors:
                raise PropagationError(f"no predictor given for class {cid} ('{names[cid]}')")
            jobs.append(ClassJob(cid, names[cid], predictors[cid]))
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
            jobs.append(ClassJob(cid, names[cid], predictors, (imgs, msks) if shared else None))  # type: ignore[arg-type]
    elif callable(predictors):
        for cid, (imgs, msks) in supports.items():
            p = predictors()
            if apply_adapted_head(project, cid, p, report.warnings):
                report.adapted_classes.append(cid)
            _set_supports(p, imgs, msks, names[cid])
            jobs.append(ClassJob(cid, names[cid], p))
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
    names, report, supports = start_report(project, scope, max_side)
    jobs = setup_jobs(project, predictors, supports, names, report)
    del supports
    model = model_name or model_name_of(jobs[0].predictor)
    fp = fingerprint(project, report.classes, scope, selected, threshold, model, max_side)
    run = start_or_resume(project, fp, scope, model, threshold, report, resume)
    keys = drop_done(project, select_targets(project, scope, selected, report), run, report)
    report.total = len(keys)
    committer = Committer.for_project(project, run.id, model, report, max_consecutive_failures)
    try:
        run_loop(
            project, jobs, keys, committer.add, report, threshold, progress, cancel, max_side, batch_size,
            loader_workers,
        )
    except BaseException:
        finish_run(project, run, "failed", report)
        raise
    finally:
        record_embeddings(project, jobs[0].predictor, model, committer.embeddings, max_side)
    report.elapsed_s = time.monotonic() - t0
    finish_run(project, run, "cancelled" if report.cancelled else "finished", report)
    log.info("propagation %s: %s", run.id, report.summary())
    return report


def run_loop(
    project: Project,
    jobs: Sequence[ClassJob],
    keys: Sequence[str],
    sink: Callable[[LabelResult], None],
    report: PropagationReport,
    threshold: float | None,
    progress: Callable[[int, int, str], None] | None,
    cancel: Any,
    max_side: int | None,
    batch_size: int = 1,
    loader_workers: int = 0,
) -> None:
    """Decode ``keys`` in batches, predict each batch in this process and hand every result to
    ``sink`` (a :class:`Committer`'s ``add``, or a shard's spool) before the next batch starts.

    Unreadable images go to ``report.unreadable``; ``cancel.is_set()`` is checked between batches.
    """
    done = 0
    dtype = project.mask_dtype
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
            for result in predict_labels(images, jobs, threshold, dtype):
                sink(result)
            del images
            for key in chunk:
                done += 1
                if progress is not None:
                    progress(done, len(keys), key)


def model_name_of(predictor: PredictorLike) -> str:
    """``predictor.model_id`` (or ``.name``) when it is a string, else the predictor's type name."""
    name = getattr(predictor, "model_id", None) or getattr(predictor, "name", None)
    return name if isinstance(name, str) else type(predictor).__name__
