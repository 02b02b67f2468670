"""Export a project (COCO JSON, PNG label masks, YOLO, Pascal VOC, labelme, CVAT) off the GUI thread, then
validate the COCO file.

:func:`run_export` is plain Python (no Qt) and does the work; :class:`ExportTask` runs it on a
pool thread and reports an :class:`ExportResult`. Which images are exported:

* ``verified`` (default): supports, accepted and edited images — what a person made or checked.
  An accepted image without a mask is exported as a labelled image without objects.
* ``all``: also unreviewed predictions. Rejected and unlabelled images are never exported as
  labelled.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from symnet_core.io.project_masks import WHICH, included, iter_project_images, project_categories
from symnet_core.project import ImageStatus, Project

log = logging.getLogger(__name__)

#: how the image list names the images an export leaves out (by status)
_LEFT_OUT = {ImageStatus.PREDICTED: "{n} prediction{s} awaiting review",
             ImageStatus.UNLABELLED: "{n} unlabelled image{s}", ImageStatus.REJECTED: "{n} rejected prediction{s}",
             ImageStatus.SUPPORT: "{n} support{s}",
             ImageStatus.ACCEPTED: "{n} accepted image{s}", ImageStatus.EDITED: "{n} edited image{s}"}


def _umask() -> int:
    mask = os.umask(0o022)  # read it (there is no getter before Python 3.13's os.getumask)...
    os.umask(mask)  # ...and put it back
    return mask


#: the mode a file made with open() gets here (0644 under umask 022); atomic writes use mkstemp (0600)
FILE_MODE = 0o666 & ~_umask()


def left_out(project: Project, which: str) -> str:
    """``"29 predictions awaiting review, 3 unlabelled images"``: what the export does not include
    as labelled, named as the image list names the statuses (``""`` when nothing)."""
    counts: dict[ImageStatus, int] = {}
    for r in project.images:
        if not r.missing and not included(r.status, which):
            counts[r.status] = counts.get(r.status, 0) + 1
    return ", ".join(_LEFT_OUT[s].format(n=n, s="" if n == 1 else "s") for s, n in counts.items())


def _normal_permissions(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.chmod(FILE_MODE)
        except OSError as exc:  # e.g. a file system without modes: the file is still written
            log.warning("could not set the mode of %s: %s", path, exc)

__all__ = ["ExportRequest", "ExportResult", "ExportTask", "run_export"]


@dataclass(frozen=True)
class ExportRequest:
    """What to export, where. ``out_dir`` is created; the COCO file is ``out_dir/coco_name``."""

    project: Project
    out_dir: str
    coco: bool = True
    png: bool = False
    polygons: bool = False
    per_component: bool = True
    which: str = "verified"
    coco_name: str = "instances.json"
    formats: tuple[str, ...] = ()
    """More formats from ``symnet_core.io.registry.INSTANCE_FORMATS``, each written to ``out_dir/<format>``."""

    def __post_init__(self) -> None:
        if self.which not in WHICH:
            raise ValueError(f"which must be one of {WHICH}")
        if not (self.coco or self.png or self.formats):
            raise ValueError("choose at least one format")


@dataclass(frozen=True)
class ExportResult:
    ok: bool
    coco_path: str = ""
    png_dir: str = ""
    images: int = 0
    summary: str = ""
    validation: str = ""
    valid: bool = True
    warnings: tuple[str, ...] = ()
    error: str = ""
    seconds: float = 0.0
    format_dirs: tuple[str, ...] = ()


def run_export(req: ExportRequest, progress: Callable[[int, int], None] | None = None) -> ExportResult:
    """Write the files and validate the COCO file; never raises (errors go into the result)."""
    from symnet_core.io import (
        CocoExportOptions,
        PngExportOptions,
        validate_coco,
        write_coco,
        write_png_masks,
    )

    t0 = time.monotonic()
    project = req.project
    out = Path(req.out_dir)
    warnings: list[str] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        cats = project_categories(project)
        parts: list[str] = []
        coco_path = png_dir = ""
        validation, valid = "", True
        n_images = sum(1 for r in project.images if not r.missing and included(r.status, req.which))
        if req.coco:
            coco_path = str(out / req.coco_name)
            options = CocoExportOptions(polygons=req.polygons, per_component=req.per_component)
            info = {"description": f"symnet-annotate export of {project.images_root}"}
            stats = write_coco(coco_path, iter_project_images(project, req.which, warnings, progress), cats,
                               options=options, info=info)
            summary = stats.summary().replace(f"; {stats.unlabelled_skipped} unlabelled images skipped", "")
            parts.append(f"COCO: {summary}")
            _normal_permissions([Path(coco_path)])
            report = validate_coco(coco_path, images_dir=project.images_root)
            validation, valid = report.summary(), report.ok
        if req.png:
            png_dir = str(out / "png")
            pstats = write_png_masks(png_dir, iter_project_images(project, req.which, warnings, progress), cats,
                                     options=PngExportOptions())
            psummary = pstats.summary().replace(f"{pstats.unlabelled_skipped} unlabelled images skipped, ", "")
            parts.append(f"PNG masks: {psummary}")
            _normal_permissions([p for p in Path(png_dir).rglob("*") if p.is_file()])
        format_dirs = []
        for fmt in req.formats:
            from symnet_core.io.interop import InstanceExportOptions
            from symnet_core.io.registry import write_format

            fstats = write_format(fmt, out / fmt, iter_project_images(project, req.which, warnings, progress), cats,
                                  options=InstanceExportOptions(per_component=req.per_component),
                                  images_root=project.images_root)
            format_dirs.append(str(out / fmt))
            parts.append(fstats.summary())
            _normal_permissions([p for p in (out / fmt).rglob("*") if p.is_file()])
        if skipped := left_out(project, req.which):
            parts.append(f"Not exported: {skipped}.")
        return ExportResult(True, coco_path, png_dir, n_images, "\n".join(parts), validation, valid,
                            tuple(dict.fromkeys(warnings)), seconds=time.monotonic() - t0,
                            format_dirs=tuple(format_dirs))
    except Exception as exc:
        log.exception("export to %s failed", out)
        return ExportResult(False, error=f"{type(exc).__name__}: {exc}", warnings=tuple(warnings),
                            validation="".join(traceback.format_exception_only(exc)).strip(),
                            seconds=time.monotonic() - t0)


class ExportTask(QObject):
    """Runs one export at a time on its own pool thread; signals arrive on the GUI thread."""

    progress = Signal(int, int)
    finished = Signal(object)  # ExportResult
    _relay_progress = Signal(int, int)
    _relay_done = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._running = threading.Event()
        self._relay_progress.connect(self.progress)
        self._relay_done.connect(self._on_done)

    @property
    def running(self) -> bool:
        return self._running.is_set()

    def start(self, req: ExportRequest) -> bool:
        if self._running.is_set():
            return False
        self._running.set()
        emit_progress, emit_done = self._relay_progress.emit, self._relay_done.emit
        last = [0.0]

        def report(i: int, n: int) -> None:
            now = time.monotonic()
            if now - last[0] > 0.1 or i + 1 == n:
                last[0] = now
                emit_progress(i, n)

        def job() -> None:
            emit_done(run_export(req, report))

        self._pool.start(job)
        return True

    @Slot(object)
    def _on_done(self, result: ExportResult) -> None:
        self._running.clear()
        self.finished.emit(result)

    def wait(self) -> None:
        self._pool.waitForDone()


def default_export_dir(images_root: str | os.PathLike[str]) -> str:
    """``<images folder>-export`` beside the images folder (never inside it: a later open would
    list exported PNG masks as images)."""
    root = Path(images_root)
    return str(root.parent / f"{root.name}-export")
