"""The project side of propagation, shared by every engine (serial, Ray, shard merges).

Which images a run targets, the run's fingerprint, starting / resuming / finishing its
:class:`RunRecord`, and :class:`Committer`, the one place a predicted mask enters a project.
Every engine goes through these, so resume, ``--scope unlabelled``, protection of
human-verified masks and crash safety behave the same whichever engine predicted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence

import numpy as np

from symnet_core.adaptation.class_heads import head_digest
from symnet_core.project import ImageStatus, Project, ProjectWriteError, RunRecord
from symnet_core.project.schema import now_iso
from symnet_core.project.status import PROPAGATION_WRITABLE
from symnet_core.workflows.contracts import PropagationError, PropagationReport
from symnet_core.workflows.prediction_steps import LabelResult

__all__ = [
    "SCOPES",
    "Committer",
    "drop_done",
    "fingerprint",
    "finish_run",
    "select_targets",
    "start_or_resume",
]

log = logging.getLogger(__name__)

SCOPES = ("unlabelled", "selected", "all")


def fingerprint(
    project: Project,
    class_ids: Sequence[int],
    scope: str,
    selected: Sequence[str] | None,
    threshold: float | None,
    model: str,
    max_side: int | None,
) -> str:
    """16 hex digits identifying a run's inputs (classes, supports, scope, threshold, model, heads)."""
    sup = {
        str(cid): [project.class_by_id(cid).name, sorted((r.path, r.updated or "") for r in project.supports(cid))]
        for cid in class_ids
    }
    heads = {str(cid): head_digest(project, cid) for cid in class_ids}
    blob = json.dumps([sup, scope, sorted(selected or []), threshold, model, max_side, heads], sort_keys=True)
    return hashlib.sha1(blob.encode(), usedforsecurity=False).hexdigest()[:16]


def select_targets(
    project: Project, scope: str, selected: Sequence[str] | None, report: PropagationReport
) -> list[str]:
    """The keys a run in ``scope`` writes, in project order; protected images go to ``report.skipped_protected``."""
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


def drop_done(project: Project, keys: Sequence[str], run: RunRecord, report: PropagationReport) -> list[str]:
    """On a resumed run, the keys not yet predicted by it (the others go to ``report.skipped_done``)."""
    if not report.resumed:
        return list(keys)
    done = {k for k in keys if project.image(k).run_id == run.id and project.image(k).status is ImageStatus.PREDICTED}
    report.skipped_done = [k for k in keys if k in done]
    return [k for k in keys if k not in done]


def start_or_resume(
    project: Project, fp: str, scope: str, model: str, threshold: float | None, report: PropagationReport, resume: bool
) -> RunRecord:
    """Resume the latest run when it is unfinished with the same fingerprint, else start one."""
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


def finish_run(project: Project, run: RunRecord, state: str, report: PropagationReport) -> None:
    """Record the run's end state and how many images it produced (over all its attempts)."""
    try:
        produced = sum(1 for r in project.images if r.run_id == run.id)
        project.update_run(run.id, state=state, finished=now_iso(), predicted=produced)
        project.save_if_dirty()
    except ProjectWriteError as exc:  # the journal already holds every stored result
        log.warning("could not record the end of run %s: %s", run.id, exc)


class Committer:
    """Hands each engine's results, one by one as they arrive, to ``store`` (the project, or a shard's spool).

    ``add`` returns once ``store`` has made the result durable (so a crash loses at most what has
    not been added yet), ignores a key it has already seen in this run (a retried task's
    duplicate) and counts consecutive failures: ``max_failures`` in a row raise
    :class:`PropagationError`. ``store(key, label, confidence) -> bool`` returns False when it
    kept a human-verified mask (``report.skipped_protected``).
    """

    def __init__(
        self, store: Callable[[str, np.ndarray, float], bool], report: PropagationReport, max_failures: int
    ) -> None:
        self.store, self.report, self.max_failures = store, report, max_failures
        self.failures_in_row = 0
        self.seen: set[str] = set()
        self.duplicates = 0
        #: image key → appearance embedding of every result that carried one (for
        #: :func:`symnet_core.workflows.next_image.record_embeddings`)
        self.embeddings: dict[str, np.ndarray] = {}

    @classmethod
    def for_project(
        cls, project: Project, run_id: str, model: str, report: PropagationReport, max_failures: int = 5
    ) -> Committer:
        """Commit into ``project`` (mask PNG + journaled record per result, protected images kept)."""

        def store(key: str, label: np.ndarray, confidence: float) -> bool:
            return project.store_prediction(key, label, confidence=confidence, model=model, run_id=run_id)

        return cls(store, report, max_failures)

    def add(self, result: LabelResult) -> None:
        key = result.key
        if key in self.seen:
            self.duplicates += 1
            return
        self.seen.add(key)
        if result.label is None:
            self.failures_in_row += 1
            self.report.failed[key] = result.error or "unknown error"
            log.error("prediction failed for %s: %s", key, self.report.failed[key])
            if self.failures_in_row >= self.max_failures:
                raise PropagationError(
                    f"the predictor failed on {self.failures_in_row} images in a row; last: {self.report.failed[key]}"
                )
            return
        self.failures_in_row = 0
        if result.embedding is not None:
            self.embeddings[key] = result.embedding
        stored = self.store(key, result.label, result.confidence)
        (self.report.predicted if stored else self.report.skipped_protected).append(key)
