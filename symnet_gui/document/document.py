"""``AnnotationDocument``: the GUI thread's view of the open project.

It wraps the Qt-free :class:`symnet_core.project.Project` and adds what the widgets need:
signals, the current image and its working mask, one ``QUndoStack`` per image and debounced saving.
Review and class operations live in :mod:`symnet_gui.document.ops` and use the public API here.

Frames
    The current mask is ``H x W`` (``uint8``/``uint16`` class ids, 0 = background) in the
    *oriented* full-resolution image frame — the frame of the canvas scene: scene point
    ``(x, y)`` lies in pixel ``mask[floor(y), floor(x)]``. Rectangles in signals are
    ``QRect(x, y, w, h)`` in that pixel frame.

Saving
    Edits change the in-memory mask at once; the mask is written through the store (atomic PNG +
    journal) ``autosave_delay_ms`` after the last edit — on a pool thread, from a copy, so painting
    never waits for the PNG encoder (:mod:`symnet_gui.document.autosave`) — and always, on this thread,
    before the current image changes, before a review action, before propagation and on close
    (:meth:`AnnotationDocument.save_now` first waits for a background write). A failed write keeps
    the edit in memory, keeps the document dirty and is reported; nothing is marked saved that was
    not, and an edit made while a background write runs keeps the document dirty.

Status rules (the store enforces the protected ones)
    painting a ``predicted``/``accepted``/``rejected``/``unlabelled`` image makes it ``edited``;
    a support stays a support (an emptied support becomes ``edited``). Undoing back to the state
    the image was opened in restores its original status (an unlabelled image becomes unlabelled
    again, an untouched prediction stays ``predicted`` with its confidence).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRect, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QUndoGroup, QUndoStack

from symnet_core.project import ClassRecord, ImageRecord, ImageStatus, Project, ProjectError, ProjectLockedError
from symnet_gui.document.autosave import BackgroundWriter, SaveJob, save_kind, write_mask
from symnet_gui.document.mask_ops import changed_bbox
from symnet_gui.document.undo import MaskPatchCommand
from symnet_gui.services.image_loader import ImageLoader, LoadedView

log = logging.getLogger(__name__)

__all__ = ["AnnotationDocument"]

UNDO_LIMIT = 200
MAX_STACKS = 40


class AnnotationDocument(QObject):
    """The open project, the current image and its edits. GUI thread only."""

    project_changed = Signal()
    records_changed = Signal(object)  # tuple of keys; () = everything may have changed
    classes_changed = Signal()
    current_class_changed = Signal(int)
    image_loading = Signal(str)
    image_changed = Signal(str)  # the current image (and mask) is shown
    mask_changed = Signal(QRect)  # pixel rect of the current mask; null rect = all of it
    save_state_changed = Signal(str)  # "saved" | "unsaved" | "error"
    notify = Signal(str, str, str)  # level ("info", "warning", "error"), message, hint

    def __init__(self, parent: QObject | None = None, *, autosave_delay_ms: int = 800) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.created_default_class = False  # open() made the class "object" (a new project)
        self.undo_group = QUndoGroup(self)
        self._stacks: OrderedDict[str, QUndoStack] = OrderedDict()
        self._origin: dict[str, ImageRecord] = {}
        self._loader = ImageLoader(self)
        self._loader.loaded.connect(self._on_loaded)
        self._keys: list[str] = []
        self._key: str | None = None
        self._record: ImageRecord | None = None
        self._image = QImage()
        self._pyramid: tuple[QImage, ...] = ()
        self._mask: np.ndarray | None = None
        self._error: str | None = None
        self._loading: str | None = None
        self._dirty = False
        self._edit_seq = 0  # counts edits; a write covers the edits up to its job's seq
        self._save_state = "saved"
        self._class_id = 0
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(autosave_delay_ms)
        self._save_timer.timeout.connect(self._autosave)
        self._writer = BackgroundWriter(self)
        self._writer.done.connect(self._on_written)
        self._project_timer = QTimer(self)
        self._project_timer.setInterval(15_000)
        self._project_timer.timeout.connect(self._save_project_file)

    # --- opening and closing ------------------------------------------------------------------

    def open(self, folder: str | Path, read_only: bool = False) -> bool:
        """Open (or create) the project of an images folder. Reports problems via :attr:`notify`."""
        if not self.close():
            return False
        try:
            project = Project.open(folder, read_only=True) if read_only else Project.open_or_create(folder)
        except ProjectLockedError as exc:
            holder = ", ".join(f"{k} {v}" for k, v in exc.holder.items() if k in ("user", "host", "pid"))
            self.notify.emit("error", f"{exc}", f"It is open elsewhere ({holder or 'unknown holder'}). Close it "
                             "there, or use File ▸ Open read-only…")
            return False
        except (ProjectError, OSError) as exc:
            self.notify.emit("error", f"Cannot open {folder}: {exc}", "")
            log.exception("opening %s failed", folder)
            return False
        self.project = project
        self.created_default_class = not project.classes and not project.read_only
        if self.created_default_class:
            project.add_class("object")  # the window says so while it is still named that
        self._keys = [r.path for r in project.images if not r.missing]
        self._class_id = project.classes[0].id if project.classes else 0
        self._project_timer.start()
        log.info("opened %s: %d images, %d classes", project.images_root, len(self._keys), len(project.classes))
        self.project_changed.emit()
        self.classes_changed.emit()
        self.current_class_changed.emit(self._class_id)
        if self._keys:
            self.select(self._first_to_show())
        return True

    def _first_to_show(self) -> str:
        assert self.project is not None
        for rec in self.project.images:
            if not rec.missing and rec.status is ImageStatus.SUPPORT:
                return rec.path
        return self._keys[0]

    def close(self) -> bool:
        """Save and close the project; returns False when the mask could not be saved."""
        if self.project is None:
            return True
        if not self.save_now():
            return False
        self._project_timer.stop()
        try:
            self.project.close()
        except ProjectError as exc:
            self.notify.emit("error", f"Could not save the project: {exc}", "Free disk space and try again.")
            return False
        self.project = None
        self._keys = []
        self._key = self._record = self._mask = self._error = None
        self._image = QImage()
        self._pyramid = ()
        for stack in self._stacks.values():
            self.undo_group.removeStack(stack)
            stack.deleteLater()
        self._stacks.clear()
        self._origin.clear()
        self._loader.invalidate()
        self._writer.release_buffer()
        self.project_changed.emit()
        self.classes_changed.emit()
        return True

    def shutdown(self) -> bool:
        ok = self.close()
        self._writer.wait()
        self._writer.release_buffer()
        self._loader.shutdown()
        return ok

    # --- read access -------------------------------------------------------------------------

    @property
    def keys(self) -> list[str]:
        """Image keys in project order (missing files excluded)."""
        return list(self._keys)

    @property
    def current_key(self) -> str | None:
        return self._key

    @property
    def current_record(self) -> ImageRecord | None:
        return self._record

    @property
    def current_image(self) -> QImage:
        return self._image

    @property
    def current_pyramid(self) -> tuple[QImage, ...]:
        """Halved copies of :attr:`current_image` for zoomed-out drawing."""
        return self._pyramid

    @property
    def current_mask(self) -> np.ndarray | None:
        """The working mask of the current image (edit only through tools / commands)."""
        return self._mask

    @property
    def current_error(self) -> str | None:
        return self._error

    @property
    def loading(self) -> bool:
        return self._loading is not None

    @property
    def dirty(self) -> bool:
        return self._dirty

    @property
    def current_class(self) -> int:
        return self._class_id

    @property
    def classes(self) -> list[ClassRecord]:
        return self.project.classes if self.project is not None else []

    @property
    def editable(self) -> bool:
        return self.project is not None and not self.project.read_only and self._mask is not None

    def record(self, key: str) -> ImageRecord:
        assert self.project is not None
        return self.project.image(key)

    def records(self) -> list[ImageRecord]:
        if self.project is None:
            return []
        return [r for r in self.project.images if not r.missing]

    def stack(self, key: str | None = None) -> QUndoStack | None:
        key = key or self._key
        return self._stacks.get(key) if key else None

    def set_current_class(self, class_id: int) -> None:
        if class_id != self._class_id and any(c.id == class_id for c in self.classes):
            self._class_id = class_id
            self.current_class_changed.emit(class_id)

    def status_applied(self, key: str, rec: ImageRecord) -> None:
        """The store changed ``key``'s status to ``rec`` (review ops): it is the new clean state."""
        if key == self._key:
            self._record = rec
        self._origin[key] = rec
        if (stack := self._stacks.get(key)) is not None:
            stack.setClean()
        self._loader.invalidate(key)
        self.records_changed.emit((key,))

    def forget_class(self, class_id: int) -> None:
        """The store removed ``class_id``: drop it from the working mask, undo history and views."""
        for stack in self._stacks.values():
            stack.clear()
        if self._mask is not None:
            self._mask[self._mask == class_id] = 0
        self._loader.invalidate()
        if self._class_id == class_id:
            self._class_id = self.classes[0].id if self.classes else 0
            self.current_class_changed.emit(self._class_id)
        self.classes_changed.emit()
        self.mask_changed.emit(QRect())
        self.records_changed.emit(())

    # --- current image -----------------------------------------------------------------------

    def select(self, key: str) -> None:
        """Show ``key`` (decoded off the GUI thread; :attr:`image_changed` follows)."""
        if self.project is None or (key == self._key and self._loading is None):
            return
        self.save_now()
        self._loading = key
        self.image_loading.emit(key)
        self._loader.request(self.project, key)

    def prefetch(self, key: str) -> None:
        if self.project is not None:
            self._loader.prefetch(self.project, key)

    @Slot(object)
    def _on_loaded(self, view: LoadedView) -> None:
        if self.project is None or view.key != self._loading:
            return
        self._loading = None
        self._key = view.key
        self._error = view.error
        self._image = view.image
        self._pyramid = view.pyramid
        current = self.project.image(view.key)
        mask = view.mask
        if view.error is None and view.record != current:
            mask = self._read_mask(view.key)  # changed since it was decoded (e.g. a prediction)
        self._record = current
        if view.error is None:
            h, w = view.image.height(), view.image.width()
            self._mask = mask.copy() if mask is not None else np.zeros((h, w), self.project.mask_dtype)
        else:
            self._mask = None
            self.notify.emit("error", view.error, "The file is left as it is; the image is skipped.")
        self._dirty = False
        if self._mask is not None and not self.project.read_only:
            self._writer.prepare(self._mask.shape, self._mask.dtype)  # for the autosave's copy
        stack = self._stack_for(view.key)
        if stack.isClean() and stack.count() == 0:
            self._origin[view.key] = current
        self.undo_group.setActiveStack(stack)
        self._set_save_state("saved")
        self.image_changed.emit(view.key)
        self.mask_changed.emit(QRect())

    def _read_mask(self, key: str) -> np.ndarray | None:
        assert self.project is not None
        try:
            return self.project.get_mask(key)
        except ProjectError as exc:
            self.notify.emit("error", str(exc), "")
            return None

    def _stack_for(self, key: str) -> QUndoStack:
        stack = self._stacks.get(key)
        if stack is None:
            stack = QUndoStack(self)
            stack.setUndoLimit(UNDO_LIMIT)
            self.undo_group.addStack(stack)
            self._stacks[key] = stack
            while len(self._stacks) > MAX_STACKS:
                old_key, old = self._stacks.popitem(last=False)
                self._origin.pop(old_key, None)
                self.undo_group.removeStack(old)
                old.deleteLater()
        self._stacks.move_to_end(key)
        return stack

    # --- editing (called by tools and commands) ---------------------------------------------------

    def region_edited(self, rect: QRect) -> None:
        """A tool changed ``rect`` of :attr:`current_mask` in place (live feedback, not yet a step)."""
        self.mask_changed.emit(rect)

    def push_patch(self, x: int, y: int, before: np.ndarray, after: np.ndarray, text: str,
                   applied: bool = True) -> bool:
        """Record one edit of the current mask as an undo step.

        ``applied``: the edit is already in the mask **and was reported** with
        :meth:`region_edited` as it was made (a brush stroke), so nothing is redrawn here —
        re-colouring a whole stroke's box at once stalled the GUI for ~50 ms at the end of a long
        stroke on a 6000x4000 image. Otherwise the command applies it and :attr:`mask_changed` follows.
        """
        if self._key is None or self._mask is None or np.array_equal(before, after):
            return False
        stack = self._stack_for(self._key)
        stack.push(MaskPatchCommand(self, self._key, x, y, before, after, text, applied))
        self._mark_dirty()
        return True

    def replace_mask(self, new: np.ndarray, text: str) -> bool:
        """Replace the whole current mask as one undo step (only the changed box is stored)."""
        box = changed_bbox(self._mask, new) if self._mask is not None else None
        if box is None:
            return False
        x, y, w, h = box
        before = self._mask[y: y + h, x: x + w].copy()
        after = new[y: y + h, x: x + w].copy()
        return self.push_patch(x, y, before, after, text, applied=False)

    def apply_patch(self, key: str, x: int, y: int, patch: np.ndarray) -> None:
        """Used by :class:`MaskPatchCommand` (undo/redo): write ``patch`` at ``(x, y)``."""
        if key != self._key or self._mask is None:
            log.warning("undo step for %s ignored: it is not the current image", key)
            return
        h, w = patch.shape
        self._mask[y: y + h, x: x + w] = patch
        self._mark_dirty()
        self.mask_changed.emit(QRect(x, y, w, h))

    def _mark_dirty(self) -> None:
        self._dirty = True
        self._edit_seq += 1
        self._set_save_state("unsaved")
        self._save_timer.start()

    def _set_save_state(self, state: str) -> None:
        if state != self._save_state:
            self._save_state = state
            self.save_state_changed.emit(state)

    @property
    def save_state(self) -> str:
        return self._save_state

    @Slot()
    def save_now(self) -> bool:
        """Write the current mask if it changed; returns False when writing failed."""
        self._save_timer.stop()
        self._writer.wait()  # a background write first: its outcome decides what is still unsaved
        job = self._save_job(copy=False)
        if job is None:
            return True
        try:
            rec = write_mask(self.project, job)  # type: ignore[arg-type]
        except (ProjectError, OSError, ValueError) as exc:
            self._save_failed(job, exc)
            return False
        self._saved(job, rec)
        return True

    @Slot()
    def _autosave(self) -> None:
        """The debounce timer: write a copy of the mask on the writer's pool thread."""
        if self._writer.busy:
            self._save_timer.start()  # one write at a time: try again after this one
            return
        job = self._save_job(copy=True)
        if job is not None:
            self._writer.submit(self.project, job)  # type: ignore[arg-type]

    def _save_job(self, copy: bool) -> SaveJob | None:
        """What writing the current mask takes now, or None when nothing is unsaved."""
        if not self._dirty or self.project is None or self._key is None or self._mask is None:
            return None
        key, mask = self._key, self._mask
        rec = self.project.image(key)
        origin, stack = self._origin.get(key), self._stacks.get(key)
        back = stack is not None and stack.isClean() and origin is not None
        kind = save_kind(rec, origin, back, bool(mask.any()))
        return SaveJob(self._edit_seq, key, self._writer.copy_for_job(mask) if copy else mask, kind, origin)

    @Slot(object, object, object)
    def _on_written(self, job: SaveJob, rec: ImageRecord | None, exc: BaseException | None) -> None:
        if exc is not None or rec is None:
            self._save_failed(job, exc or RuntimeError("no record returned"))
        else:
            self._saved(job, rec)

    def _saved(self, job: SaveJob, rec: ImageRecord) -> None:
        if job.kind == "emptied_support":
            self.notify.emit("warning", f"{Path(job.key).name} is no longer a support: its mask is empty.", "")
        self._loader.invalidate(job.key)
        if job.key == self._key:
            self._record = rec
            if job.seq == self._edit_seq:  # no edit since the job was made
                self._dirty = False
                self._set_save_state("saved")
        self.records_changed.emit((job.key,))

    def _save_failed(self, job: SaveJob, exc: BaseException) -> None:
        log.error("saving the mask of %s failed", job.key, exc_info=exc)
        self._set_save_state("error")
        self.notify.emit(
            "error",
            f"The mask of {Path(job.key).name} could not be saved: {exc}",
            "Your edit is kept in memory; free disk space or fix permissions. Saving is retried on the next edit.",
        )

    @Slot()
    def _save_project_file(self) -> None:
        if self.project is None or self.project.read_only:
            return
        try:
            self.project.save_if_dirty()
        except ProjectError as exc:
            log.warning("periodic project save failed: %s", exc)

    # --- external changes (propagation results) ---------------------------------------------------

    def refresh(self, keys: tuple[str, ...] | list[str]) -> None:
        """Records changed in the store (e.g. a prediction was written): update views.

        The current image's mask is reloaded unless the user has unsaved edits (they win: the
        store refuses to overwrite them with a prediction once saved).
        """
        if self.project is None:
            return
        keys = tuple(keys)
        for key in keys:
            self._loader.invalidate(key)
            stack = self._stacks.get(key)
            if key != self._key and stack is not None and stack.count():
                stack.clear()  # its patches describe a mask that was replaced
                self._origin.pop(key, None)
        if self._key in keys and not self._dirty:
            new = self.project.image(self._key)
            if new != self._record:
                self._reload_current(new)
        self.records_changed.emit(keys)

    def _reload_current(self, rec: ImageRecord) -> None:
        assert self._key is not None
        mask = self._read_mask(self._key)
        if self._mask is not None:
            self._mask = mask.copy() if mask is not None else np.zeros_like(self._mask)
        self._record = rec
        stack = self._stacks.get(self._key)
        if stack is not None:
            stack.clear()
        self._origin[self._key] = rec
        self.mask_changed.emit(QRect())
        self.image_changed.emit(self._key)
