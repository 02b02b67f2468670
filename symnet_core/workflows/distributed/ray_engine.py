"""Propagation on a Ray cluster (or a local Ray) with Ray Data's ``map_batches``.

Layout of a run::

    driver (holds the project lock)                      actors (``workers`` of them)
    targets, supports, run record  --WorkerSpec once-->  load model, set supports (once)
    Ray Dataset of image keys      --batches of keys-->  read image files, predict, PNG-encode
    commit each result (journal)   <--key, PNG, conf---

Only the driver writes the project, through :class:`symnet_core.workflows.run_book.Committer`
(the serial path's commit), so resume, ``--scope unlabelled``, protection of human-verified masks
and ``kill -9`` safety are the serial run's. Workers read images themselves: the images folder
must be visible at the same path on every node (shared filesystem). Ray Data restarts a dead
actor and retries its batch (``max_restarts=-1``, ``max_task_retries=-1`` by default in Ray 2.60);
the committer drops a result it has already stored, so nothing is lost or duplicated.

Ray is imported inside the functions only.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from symnet_core.project import Project
from symnet_core.workflows.contracts import PropagationError, PropagationReport
from symnet_core.workflows.distributed.worker import ClassSpec, ModelOptions, PredictWorker, WorkerSpec, decode_mask
from symnet_core.workflows.next_image import record_embeddings
from symnet_core.workflows.prediction_steps import LabelResult
from symnet_core.workflows.run_book import (
    SCOPES,
    Committer,
    drop_done,
    fingerprint,
    finish_run,
    select_targets,
    start_or_resume,
)
from symnet_core.workflows.supports import start_report

__all__ = ["RayOptions", "ensure_ray", "predict_on_ray", "propagate_project_ray"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RayOptions:
    """How to spread the work: ``workers`` actors, each with ``threads`` CPU threads and
    ``gpus_per_worker`` GPUs (fractions share a GPU), ``batch_size`` images per call;
    ``address`` of a running cluster (``None``: start a local Ray on this machine)."""

    workers: int = 2
    threads: int = 1
    gpus_per_worker: float = 0.0
    batch_size: int = 1
    address: str | None = None


def ensure_ray(address: str | None, num_cpus: int | None = None) -> Any:
    """Import Ray and connect (to ``address``, or a local instance), reusing an existing connection."""
    try:
        import ray
    except ImportError as exc:
        raise PropagationError(
            'the Ray engine needs the distributed extra: pip install "symnet-annotate[distributed]"'
        ) from exc
    if not ray.is_initialized():
        if address:  # a running cluster (``auto``, ``HOST:6379``) or Ray Client (``ray://HOST:10001``)
            ray.init(address=address)
        else:  # a local Ray for this run: workers x threads CPUs, no dashboard, workers' logs kept in its session
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    return ray


def predict_on_ray(
    spec: WorkerSpec, keys: Sequence[str], opts: RayOptions, cancel: Any = None
) -> Iterator[tuple[str, str, LabelResult]]:
    """Stream ``(kind, key, result)`` for ``keys`` as the actors finish them (any order).

    ``kind``: ``"ok"``, ``"failed"`` or ``"unreadable"`` (then ``result.error`` is the reason).
    Stops early, dropping the batches in flight, once ``cancel.is_set()``.
    """
    if opts.workers < 1 or opts.batch_size < 1 or opts.threads < 1:
        raise ValueError("workers, threads and batch_size must be >= 1")
    if not keys:
        return
    ray = ensure_ray(opts.address, num_cpus=opts.workers * opts.threads)
    blocks = max(1, min(len(keys), math.ceil(len(keys) / opts.batch_size)))
    ds = ray.data.from_items([{"key": k} for k in keys], override_num_blocks=blocks)
    out = ds.map_batches(
        PredictWorker,
        fn_constructor_kwargs={"spec": spec},
        batch_size=opts.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=opts.workers),
        num_cpus=opts.threads,
        num_gpus=opts.gpus_per_worker or None,
    )
    rows = out.iter_rows()
    try:
        for row in rows:
            key, kind = str(row["key"]), str(row["kind"])
            if kind == "ok":
                vec = bytes(row.get("embedding", b""))
                yield kind, key, LabelResult(key, decode_mask(bytes(row["png"])), float(row["confidence"]),
                                             embedding=np.frombuffer(vec, np.float32).copy() if vec else None)
            else:
                yield kind, key, LabelResult(key, None, error=str(row["error"]))
            if cancel is not None and cancel.is_set():
                break
    except Exception:
        if cancel is None or not cancel.is_set():
            raise
        # Ctrl+C also reaches the local actors (same process group): their errors end the run quietly
        log.info("Ray run stopped after the cancel request", exc_info=True)
    finally:
        close = getattr(rows, "close", None)
        if callable(close):
            close()


def class_specs(project: Project, supports: dict, model_id: str, report: PropagationReport) -> list[ClassSpec]:
    """Each class's supports plus its adapted head (loaded here, on the driver, exactly as the serial path does)."""
    from symnet_core.adaptation.class_heads import apply_adapted_head

    specs = []
    for cid, (imgs, msks) in supports.items():
        holder = _HeadHolder(model_id)
        if apply_adapted_head(project, cid, holder, report.warnings):
            report.adapted_classes.append(cid)
        specs.append(ClassSpec(cid, project.class_by_id(cid).name, imgs, msks, holder.head))
    return specs


class _HeadHolder:
    """Stands in for a predictor so :func:`apply_adapted_head` vets and loads the head on the driver."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.head: tuple[dict, dict] | None = None

    def load_head(self, state: dict, metadata: dict | None = None) -> None:
        self.head = (state, dict(metadata or {}))


def propagate_project_ray(
    project: Project,
    model: ModelOptions,
    opts: RayOptions,
    scope: str = "unlabelled",
    selected: Sequence[str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: Any = None,
    *,
    max_side: int | None = 1024,
    resume: bool = True,
    max_consecutive_failures: int = 5,
) -> PropagationReport:
    """:func:`symnet_core.workflows.propagation.propagate_project` with the predictions made by Ray actors.

    Same run record, fingerprint (the model is named by its checkpoint id, as in the serial CLI
    path), targets, resume and commit; ``threshold`` is the predictor's (``model.threshold``).
    """
    from symnet_core.inference.loading import checkpoint_id

    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    t0 = time.monotonic()
    _, report, supports = start_report(project, scope, max_side)
    model_id = checkpoint_id(model.checkpoint)
    spec = WorkerSpec(
        model, class_specs(project, supports, model_id, report), str(Path(project.images_root).resolve()),
        max_side=max_side, dtype=project.mask_dtype.__name__, threads=opts.threads,
    )
    del supports
    fp = fingerprint(project, report.classes, scope, selected, None, model_id, max_side)
    run = start_or_resume(project, fp, scope, model_id, None, report, resume)
    keys = drop_done(project, select_targets(project, scope, selected, report), run, report)
    report.total = len(keys)
    committer = Committer.for_project(project, run.id, model_id, report, max_consecutive_failures)
    done = 0
    try:
        for kind, key, result in predict_on_ray(spec, keys, opts, cancel):
            if kind == "unreadable":
                report.unreadable[key] = result.error or ""
            else:
                committer.add(result)
            done += 1
            if progress is not None:
                progress(done, len(keys), key)
        report.cancelled = cancel is not None and cancel.is_set() and done < len(keys)
    except BaseException:
        finish_run(project, run, "failed", report)
        raise
    finally:  # the driver holds no model: supports get vectors from the next local run
        record_embeddings(project, None, model_id, committer.embeddings, max_side)
    if committer.duplicates:
        log.info("dropped %d duplicate result(s) of retried batches", committer.duplicates)
    report.elapsed_s = time.monotonic() - t0
    finish_run(project, run, "cancelled" if report.cancelled else "finished", report)
    log.info("propagation %s on Ray: %s", run.id, report.summary())
    return report
