"""Model downloads and registrations off the GUI thread (the registry itself is read on the GUI thread:
it is torch-free JSON).

:class:`ModelsService` runs one :class:`symnet_core.weights.ModelManager` job at a time on its own
pool thread: fetch (progress: bytes, rate, ETA), sha256 check, strict CPU load of a checkpoint
(torch is imported there, on the worker), registration. ``cancel()`` stops a download between
chunks; nothing is left in the models folder. Signals arrive on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from symnet_core.cancel import OperationCancelled
from symnet_core.weights import ModelEntry, ModelManager

log = logging.getLogger(__name__)

__all__ = ["ModelsService"]


class ModelsService(QObject):
    """``progress(DownloadProgress)``, ``stage(str)``, ``installed(ModelEntry)``, ``failed(str)``,
    ``cancelled()``, ``listed(str, list[(id, path)])`` (a catalogue folder's files)."""

    progress = Signal(object)
    stage = Signal(str)
    installed = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    listed = Signal(str, object)
    _relay_done = Signal(str, object)

    def __init__(self, models_dir: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.manager = ModelManager(models_dir)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setObjectName("symnet-models")
        self._cancel = threading.Event()
        self._busy = threading.Event()
        self._relay_done.connect(self._on_done)

    @property
    def busy(self) -> bool:
        return self._busy.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self) -> None:
        self._pool.waitForDone()

    def _start(self, work: Callable[[Callable, Callable], object], kind: str) -> bool:
        if self._busy.is_set():
            return False
        self._busy.set()
        self._cancel.clear()
        emit_progress, emit_stage, emit_done = self.progress.emit, self.stage.emit, self._relay_done.emit
        last = [0.0]

        def report(p) -> None:
            now = time.monotonic()
            if now - last[0] > 0.1 or (p.total and p.done >= p.total):
                last[0] = now
                emit_progress(p)

        def job() -> None:
            try:
                emit_done(kind, work(report, emit_stage))
            except OperationCancelled:
                emit_done("cancelled", None)
            except Exception as exc:  # every failure becomes one line for the dialog
                log.warning("model job failed: %s", exc)
                emit_done("failed", f"{exc}")

        self._pool.start(job)
        return True

    def add(self, source: str, name: str | None = None, sha256: str | None = None) -> bool:
        """Install a file path, URL, hf:// or gdrive:// source. False when a job is already running."""
        return self._start(lambda rep, st: self.manager.add(source, name=name, sha256=sha256, progress=rep,
                                                            stage=st, cancel=self._cancel), "installed")

    def get(self, catalogue_name: str, file: str | None = None, files: list | None = None) -> bool:
        """Install a catalogue entry (``file``: one file of a folder entry)."""
        return self._start(lambda rep, st: self.manager.get(catalogue_name, file=file, files=files, progress=rep,
                                                            stage=st, cancel=self._cancel), "installed")

    def list_folder(self, catalogue_name: str) -> bool:
        """List a folder entry's files (network); answers with ``listed``."""
        return self._start(lambda rep, st: (catalogue_name, self.manager.list_folder(catalogue_name)), "listed")

    @Slot(str, object)
    def _on_done(self, kind: str, value: object) -> None:
        self._busy.clear()
        if kind == "installed":
            assert isinstance(value, ModelEntry)
            self.installed.emit(value)
        elif kind == "listed":
            name, files = value  # type: ignore[misc]
            self.listed.emit(name, files)
        elif kind == "cancelled":
            self.cancelled.emit()
        else:
            self.failed.emit(str(value))
