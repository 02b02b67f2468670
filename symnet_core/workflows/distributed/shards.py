"""Shard runs for schedulers without Ray (SLURM arrays, Kubernetes indexed jobs): ``--shard i/N``.

Split
    Shard ``i`` of ``N`` takes every ``N``-th key of the **sorted** list of all the project's
    image keys (``sorted(keys)[i::N]``; folder-to-folder: of the images folder's relative paths),
    then keeps those the run targets. The split depends only on the folder's content, not on the
    project's state, so shards started at different times agree, and the union of the ``N``
    shards is the serial run's target list.

Writing into one project without its lock
    A project is open for writing in one process at a time (its lock). A shard therefore opens a
    **read-only snapshot** to compute, and writes its results into its own **spool**:
    ``.symnet/shards/<fingerprint>/<i>of<N>/results.jsonl``, one fsynced line per image (PNG mask,
    base64, and confidence) — ``kill -9`` loses at most the image in flight, and a rerun of the
    shard skips what its spool already holds. A spool has its own lock, so one shard cannot run
    twice at once. When it ends, the shard waits for the project lock (up to ``lock_wait_s``),
    then **merges** every spool no running shard holds through the serial path's commit
    (:class:`symnet_core.workflows.run_book.Committer`): masks, run record, protection of
    human-verified masks and the journal are exactly a serial run's. All shards of one
    propagation (same fingerprint) share one run record; it is ``finished`` once every shard has
    completed and been merged. Spools left unmerged (the project stayed open in the app) are
    merged by the next ``propagate --project ... --merge-shards`` or shard run.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import random
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symnet_core.project import Project, ProjectLockedError
from symnet_core.project.journal import Journal, read_journal
from symnet_core.project.lock import ProjectLock
from symnet_core.workflows.contracts import PredictorSource, PropagationError, PropagationReport
from symnet_core.workflows.distributed.worker import decode_mask, encode_mask
from symnet_core.workflows.prediction_steps import LabelResult
from symnet_core.workflows.propagation import model_name_of, run_loop, setup_jobs
from symnet_core.workflows.run_book import (
    SCOPES,
    Committer,
    drop_done,
    fingerprint,
    finish_run,
    select_targets,
    start_or_resume,
)
from symnet_core.workflows.supports import load_class_supports

__all__ = ["MergeSummary", "merge_spools", "parse_shard", "propagate_project_shard", "shard_keys"]

log = logging.getLogger(__name__)

SHARDS_DIR = "shards"
RESULTS = "results.jsonl"
_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` → ``(i, N)`` with ``0 <= i < N``; ``ValueError`` with a one-line reason otherwise."""
    m = _SHARD_RE.match(text or "")
    if not m:
        raise ValueError(f"--shard must look like i/N (e.g. 0/4), got {text!r}")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {text}: need 0 <= i < N")
    return i, n


def shard_keys(all_keys: Sequence[str], shard: int, of: int) -> list[str]:
    """Shard ``shard`` of ``of``: every ``of``-th key of ``sorted(all_keys)``, starting at ``shard``."""
    return sorted(all_keys)[shard::of]


@dataclass
class MergeSummary:
    """What :func:`merge_spools` committed: counts per spool and runs finished."""

    committed: int = 0
    protected: int = 0
    spools: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # spools of shards still running
    finished_runs: list[str] = field(default_factory=list)


class _Spool:
    """A shard's durable results: a header line, then one line per image (append + fsync)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.lock = ProjectLock(folder)
        self.journal = Journal(folder / RESULTS)

    def open(self, header: dict[str, Any]) -> set[str]:
        """Lock the spool and return the keys it already holds (a resumed shard skips them)."""
        try:
            self.lock.acquire()
        except ProjectLockedError as exc:
            raise PropagationError(f"this shard is already running ({exc})") from exc
        done = {str(e["key"]) for e in read_journal(self.folder / RESULTS) if e.get("op") == "result"}
        self.journal.open()
        if not done:
            self.journal.append({"op": "header", **header})
        return done

    def store(self, key: str, label: np.ndarray, confidence: float) -> bool:
        png = base64.b64encode(encode_mask(label)).decode("ascii")
        self.journal.append({"op": "result", "key": key, "png": png, "confidence": confidence})
        return True

    def close(self) -> None:
        self.journal.close()
        self.lock.release()


def propagate_project_shard(
    path: str | Path,
    predictors: PredictorSource,
    shard: int,
    of: int,
    scope: str = "unlabelled",
    selected: Sequence[str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: Any = None,
    *,
    max_side: int | None = 1024,
    model_name: str | None = None,
    batch_size: int = 1,
    loader_workers: int = 0,
    max_consecutive_failures: int = 5,
    lock_wait_s: float = 600.0,
) -> tuple[PropagationReport, MergeSummary | None]:
    """Predict shard ``shard`` of ``of`` of the project at ``path`` into a spool, then merge.

    The project is **not** opened for writing while predicting (others may hold it). Returns the
    shard's report (``predicted`` = spooled here) and the merge summary, or ``None`` when the
    project lock stayed taken for ``lock_wait_s`` seconds (the spool is kept for a later merge).
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    t0 = time.monotonic()
    snap = Project.open(path, read_only=True)
    names = {c.id: c.name for c in snap.classes}
    report = PropagationReport(run_id="", scope=scope)
    supports = load_class_supports(snap, list(names), max_side, report)
    if not supports:
        raise PropagationError("no support masks: paint at least one image and mark it as a support")
    report.classes = sorted(supports)
    jobs = setup_jobs(snap, predictors, supports, names, report)
    del supports
    model = model_name or model_name_of(jobs[0].predictor)
    fp = fingerprint(snap, report.classes, scope, selected, None, model, max_side)
    last = snap.runs[-1] if snap.runs else None
    keys = select_targets(snap, scope, selected, report)
    if last is not None and last.state != "finished" and last.fingerprint == fp:
        report.resumed, report.run_id = True, last.id
        keys = drop_done(snap, keys, last, report)
    mine = set(shard_keys([r.path for r in snap.images], shard, of))
    keys = [k for k in keys if k in mine]
    report.skipped_protected = [k for k in report.skipped_protected if k in mine]
    spool = _Spool(snap.project_dir / SHARDS_DIR / fp / f"{shard}of{of}")
    header = {"fingerprint": fp, "scope": scope, "model": model, "classes": report.classes, "shard": shard, "of": of}
    spooled = spool.open(header)
    try:
        report.skipped_done += [k for k in keys if k in spooled]
        keys = [k for k in keys if k not in spooled]
        report.total = len(keys)
        committer = Committer(spool.store, report, max_consecutive_failures)
        run_loop(snap, jobs, keys, committer.add, report, None, progress, cancel, max_side, batch_size, loader_workers)
        if not report.cancelled:
            (spool.folder.parent / f"{shard}of{of}.done").touch()
    finally:
        spool.close()
    report.elapsed_s = time.monotonic() - t0
    return report, _merge_when_free(path, lock_wait_s)


def _merge_when_free(path: str | Path, lock_wait_s: float) -> MergeSummary | None:
    deadline = time.monotonic() + lock_wait_s
    while True:
        try:
            project = Project.open(path)
        except ProjectLockedError:
            if time.monotonic() >= deadline:
                log.warning("the project stayed open elsewhere for %.0f s: shard results kept for a later merge",
                            lock_wait_s)
                return None
            time.sleep(0.2 + random.random() * 0.3)
            continue
        with project:
            return merge_spools(project)


def merge_spools(project: Project) -> MergeSummary:
    """Commit every shard spool of ``project`` that no running shard holds (the caller holds the project)."""
    summary = MergeSummary()
    root = project.project_dir / SHARDS_DIR
    if not root.is_dir():
        return summary
    for fp_dir in sorted(d for d in root.iterdir() if d.is_dir()):
        header: dict[str, Any] | None = None
        for folder in sorted(d for d in fp_dir.iterdir() if d.is_dir()):
            lock = ProjectLock(folder)
            try:
                lock.acquire()
            except ProjectLockedError:
                summary.busy.append(str(folder))
                continue
            try:
                entries = read_journal(folder / RESULTS)
                if entries and entries[0].get("op") == "header":
                    header = entries[0]
                    _commit_spool(project, header, entries[1:], summary)
                    summary.spools.append(folder.name)
                (folder / RESULTS).unlink(missing_ok=True)
            finally:
                lock.release()
        _maybe_finish(project, fp_dir, header, summary)
    return summary


def _run_for(project: Project, header: dict[str, Any], report: PropagationReport):
    report.classes = [int(c) for c in header.get("classes", [])]
    return start_or_resume(project, str(header["fingerprint"]), str(header["scope"]), str(header["model"]), None,
                           report, resume=True)


def _commit_spool(project: Project, header: dict[str, Any], entries: list[dict], summary: MergeSummary) -> None:
    report = PropagationReport(run_id="", scope=str(header["scope"]))
    run = _run_for(project, header, report)
    committer = Committer.for_project(project, run.id, str(header["model"]), report, max_failures=1 << 30)
    for e in entries:
        if e.get("op") == "result" and str(e["key"]) in project:
            label = decode_mask(base64.b64decode(e["png"]))
            committer.add(LabelResult(str(e["key"]), label, float(e["confidence"])))
    summary.committed += len(report.predicted)
    summary.protected += len(report.skipped_protected)
    finish_run(project, run, "cancelled", report)  # unfinished until every shard is in (_maybe_finish)


def _maybe_finish(project: Project, fp_dir: Path, header: dict[str, Any] | None, summary: MergeSummary) -> None:
    """Mark the run finished and drop its folder once all ``N`` shards completed and were merged."""
    markers = [m.name for m in fp_dir.glob("*of*.done")]
    if not markers:
        return
    of = int(markers[0].split("of")[1].split(".")[0])
    complete = all((fp_dir / f"{i}of{of}.done").is_file() for i in range(of))
    pending = any((d / RESULTS).is_file() for d in fp_dir.iterdir() if d.is_dir())
    if not complete or pending:
        return
    last = project.runs[-1] if project.runs else None
    if last is not None and last.fingerprint == fp_dir.name:
        finish_run(project, last, "finished", PropagationReport(run_id=last.id, scope=last.scope))
        summary.finished_runs.append(last.id)
    with contextlib.suppress(OSError):
        shutil.rmtree(fp_dir)
