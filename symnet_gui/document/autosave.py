"""Writing the current mask to the store, on the GUI thread or on a pool thread.

:class:`~symnet_gui.document.document.AnnotationDocument` decides *what* to write on the GUI thread (a
:class:`SaveJob`: which store calls, from the image's undo state) and :func:`write_mask` does it
— directly when the write must be finished before the next step (``save_now``: before changing
image, reviewing, propagating, closing), or through :class:`BackgroundWriter` for the debounced
autosave: encoding a 6000x4000 mask as PNG takes 0.1–0.5 s, which froze painting when it ran on
the GUI thread (``bench/bench_gui.py``, brush section). The store is thread-safe (ADR 0005).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from symnet_core.project import ImageRecord, ImageStatus

if TYPE_CHECKING:
    from symnet_core.project import Project

__all__ = ["BackgroundWriter", "SaveJob", "write_mask"]

#: ``kind`` of a :class:`SaveJob`
KINDS = ("edit", "restore_empty", "restore", "accepted", "emptied_support")


@dataclass(frozen=True, eq=False)
class SaveJob:
    """One write of an image's mask.

    Attributes:
        seq: the document's edit counter when the job was made (a newer edit keeps it unsaved).
        key: the image. mask: the pixels to write (a copy when written off the GUI thread).
        kind: ``edit`` (status by the store's rules), ``restore_empty`` (undone back to an image
            without a mask: forget the mask, restore the status), ``restore`` (undone back to an
            untouched prediction or rejection: keep status and confidence), ``accepted`` (undone
            back to an accepted mask), ``emptied_support`` (a support whose pixels were all erased
            becomes ``edited``).
        origin: the image's record when it was opened (``restore*`` / ``accepted``).
    """

    seq: int
    key: str
    mask: np.ndarray
    kind: str
    origin: ImageRecord | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind in ("restore_empty", "restore", "accepted") and self.origin is None:
            raise ValueError(f"a {self.kind!r} job needs the origin record")


def save_kind(rec: ImageRecord, origin: ImageRecord | None, back_to_origin: bool, has_pixels: bool) -> str:
    """The :data:`KINDS` entry for writing a mask: ``rec`` is the stored record, ``origin`` the one
    the image was opened with, ``back_to_origin`` whether undo returned to it."""
    if back_to_origin and origin is not None:
        if origin.mask is None and not has_pixels:
            return "restore_empty"
        if origin.status in (ImageStatus.PREDICTED, ImageStatus.REJECTED):
            return "restore"
        if origin.status is ImageStatus.ACCEPTED:
            return "accepted"
    return "emptied_support" if rec.is_support and not has_pixels else "edit"


def write_mask(project: Project, job: SaveJob) -> ImageRecord:
    """Do ``job`` in the store (any thread); returns the image's new record. Raises what the
    store raises (``ProjectError``, ``OSError``, ``ValueError``)."""
    key, origin = job.key, job.origin
    if job.kind == "restore_empty":
        assert origin is not None
        rec = project.image(key)
        if rec.mask is not None or rec.status is not origin.status:
            rec = project.clear_mask(key)
            if origin.status is not ImageStatus.UNLABELLED:
                rec = project.set_status(key, origin.status)
        return rec
    if job.kind == "restore":
        assert origin is not None
        rec = project.set_mask(key, job.mask, status=origin.status)
        if origin.confidence is not None:
            rec = project.set_confidence(key, origin.confidence)
        return rec
    if job.kind == "accepted":
        return project.set_mask(key, job.mask, status=ImageStatus.ACCEPTED)
    if job.kind == "emptied_support":
        return project.set_mask(key, job.mask, status=ImageStatus.EDITED)
    return project.set_mask(key, job.mask)


class _Relay(QObject):
    ready = Signal()


class BackgroundWriter(QObject):
    """Runs one :func:`write_mask` at a time on a pool thread. Use from the GUI thread.

    :attr:`done` ``(job, record or None, exception or None)`` is emitted on the GUI thread, once
    per job: from the event loop, or at once from :meth:`wait`.

    The copy of the mask a job writes goes into a recycled buffer (:meth:`copy_for_job`): a fresh
    24 MB array costs its first-touch page faults on the GUI thread — up to ~0.1 s on a busy
    machine. :meth:`prepare` maps such a buffer on the pool thread in advance.
    """

    done = Signal(object, object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay()
        self._relay.ready.connect(self._deliver)
        self._lock = threading.Lock()
        self._results: list[tuple[SaveJob, ImageRecord | None, BaseException | None]] = []
        self._spare: list[np.ndarray] = []  # at most one buffer, shared with pool jobs (under the lock)
        self._busy = False

    @property
    def busy(self) -> bool:
        """A job was submitted and its :attr:`done` has not been emitted yet."""
        return self._busy

    def submit(self, project: Project, job: SaveJob) -> None:
        if self._busy:
            raise RuntimeError("one write at a time: wait() for the one in flight first")
        self._busy = True
        results, lock, relay = self._results, self._lock, self._relay

        def run() -> None:
            try:
                out = (job, write_mask(project, job), None)
            except Exception as exc:  # reported on the GUI thread, never lost
                out = (job, None, exc)
            with lock:
                results.append(out)
            relay.ready.emit()

        self._pool.start(run)

    def copy_for_job(self, mask: np.ndarray) -> np.ndarray:
        """A copy of ``mask`` for :meth:`submit`, in the spare buffer when it fits (GUI thread)."""
        with self._lock:
            spare = self._spare.pop() if self._spare else None
        if spare is None or spare.shape != mask.shape or spare.dtype != mask.dtype:
            return mask.copy()
        np.copyto(spare, mask)
        return spare

    def prepare(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """Map a spare buffer of this shape on the pool thread, unless one is ready (GUI thread)."""
        with self._lock:
            if self._spare and self._spare[0].shape == shape and self._spare[0].dtype == dtype:
                return
        spare, lock = self._spare, self._lock

        def run() -> None:
            buf = np.empty(shape, dtype)
            buf.fill(0)  # touches every page here, not on the GUI thread
            with lock:
                spare[:] = [buf]

        self._pool.start(run)

    def release_buffer(self) -> None:
        """Forget the spare buffer (the project closed)."""
        self._pool.waitForDone()
        with self._lock:
            self._spare.clear()

    def wait(self) -> None:
        """Block until the job in flight (if any) is written, and emit its :attr:`done` now."""
        if self._busy:
            self._pool.waitForDone()
            self._deliver()

    @Slot()
    def _deliver(self) -> None:
        with self._lock:
            results = list(self._results)
            self._results.clear()
        for job, rec, exc in results:
            self._busy = False
            with self._lock:
                self._spare[:] = [job.mask]  # written: its memory serves the next copy
            self.done.emit(job, rec, exc)
