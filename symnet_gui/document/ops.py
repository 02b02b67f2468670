"""Review, mask and class operations of :class:`~symnet_gui.document.document.AnnotationDocument`.

Split from ``document.py`` only to keep modules small; the methods run on the GUI thread and use
the document's state (``project``, the current image, its undo stacks) and signals. The rules
(what a status change requires, what is never overwritten) are the store's; these methods turn
its refusals into messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRect

from symnet_core.project import ClassRecord, ImageRecord, ImageStatus, ProjectError
from symnet_gui.document.mask_ops import fill_holes

if TYPE_CHECKING:
    from symnet_gui.document.document import AnnotationDocument

__all__ = ["DocumentOpsMixin", "fill_holes"]


class DocumentOpsMixin:
    """Accept/reject/support, clear/fill, and class editing (mixed into the document)."""

    # --- review -----------------------------------------------------------------------------------

    def _status_action(self: AnnotationDocument, key: str | None) -> tuple[str, ImageRecord] | None:
        if self.project is None or self.project.read_only:
            return None
        key = key or self._key
        if key is None:
            return None
        if key == self._key and not self.save_now():
            return None
        return key, self.project.image(key)

    def _after_status(self: AnnotationDocument, key: str, rec: ImageRecord) -> None:
        if key == self._key:
            self._record = rec
        self._origin[key] = rec
        stack = self._stacks.get(key)
        if stack is not None:
            stack.setClean()
        self._loader.invalidate(key)
        self.records_changed.emit((key,))

    def set_status(self: AnnotationDocument, status: ImageStatus, key: str | None = None) -> bool:
        """Accept/reject/... one image (default: the current one). Returns whether it changed."""
        found = self._status_action(key)
        if found is None:
            return False
        key, rec = found
        if rec.status is status:
            return True
        if rec.status is ImageStatus.SUPPORT and status is not ImageStatus.SUPPORT:
            self.notify.emit("info", f"{Path(key).name} is a support; press S to unmark it first.", "")
            return False
        try:
            new = self.project.set_status(key, status)  # type: ignore[union-attr]
        except (ValueError, ProjectError) as exc:
            self.notify.emit("warning", str(exc), "")
            return False
        self._after_status(key, new)
        return True

    def accept(self: AnnotationDocument, key: str | None = None) -> bool:
        found = self._status_action(key)
        if found is None:
            return False
        k, rec = found
        if rec.status is ImageStatus.SUPPORT:
            return True  # already human-verified
        if rec.mask is None:
            self.notify.emit("info", f"{Path(k).name} accepted as empty (nothing to label).", "")
        return self.set_status(ImageStatus.ACCEPTED, k)

    def reject(self: AnnotationDocument, key: str | None = None) -> bool:
        found = self._status_action(key)
        if found is None:
            return False
        k, rec = found
        if rec.mask is None:
            self.notify.emit("info", f"{Path(k).name} has no mask to reject.", "")
            return False
        return self.set_status(ImageStatus.REJECTED, k)

    def set_support(self: AnnotationDocument, on: bool, key: str | None = None) -> bool:
        found = self._status_action(key)
        if found is None:
            return False
        k, rec = found
        if rec.is_support == on:
            return True
        try:
            new = self.project.set_support(k, on)  # type: ignore[union-attr]
        except (ValueError, ProjectError):
            self.notify.emit("warning", f"{Path(k).name} has no painted pixels yet.",
                             "Paint the object with the brush (B), then press S.")
            return False
        self._after_status(k, new)
        return True

    def toggle_support(self: AnnotationDocument) -> bool:
        if self._record is None:
            return False
        return self.set_support(not self._record.is_support)

    # --- mask operations ------------------------------------------------------------------------

    def clear_mask(self: AnnotationDocument) -> bool:
        if not self.editable:
            return False
        assert self._mask is not None
        return self.replace_mask(np.zeros_like(self._mask), "Clear mask")

    def fill_holes(self: AnnotationDocument, class_id: int | None = None) -> bool:
        """Fill background regions completely enclosed by ``class_id`` (default: current class)."""
        if not self.editable:
            return False
        assert self._mask is not None
        cid = class_id or self._class_id
        filled = fill_holes(self._mask, cid)
        if not self.replace_mask(filled, "Fill holes"):
            self.notify.emit("info", "No holes to fill in the current class.", "")
            return False
        return True

    # --- classes ---------------------------------------------------------------------------------

    def set_current_class(self: AnnotationDocument, class_id: int) -> None:
        if class_id != self._class_id and any(c.id == class_id for c in self.classes):
            self._class_id = class_id
            self.current_class_changed.emit(class_id)

    def select_class_index(self: AnnotationDocument, index: int) -> None:
        """Select the ``index``-th class (0-based, creation order) — digit shortcuts."""
        classes = self.classes
        if 0 <= index < len(classes):
            self.set_current_class(classes[index].id)

    def add_class(self: AnnotationDocument, name: str, color: str | None = None) -> ClassRecord | None:
        if self.project is None:
            return None
        try:
            rec = self.project.add_class(name, color)
        except (ValueError, ProjectError) as exc:
            self.notify.emit("warning", str(exc), "")
            return None
        self.classes_changed.emit()
        self.set_current_class(rec.id)
        return rec

    def rename_class(self: AnnotationDocument, class_id: int, name: str) -> bool:
        if self.project is None:
            return False
        try:
            self.project.rename_class(class_id, name)
        except (ValueError, ProjectError, KeyError) as exc:
            self.notify.emit("warning", str(exc), "")
            return False
        self.classes_changed.emit()
        return True

    def recolor_class(self: AnnotationDocument, class_id: int, color: str) -> bool:
        if self.project is None:
            return False
        try:
            self.project.recolor_class(class_id, color)
        except (ValueError, ProjectError, KeyError) as exc:
            self.notify.emit("warning", str(exc), "")
            return False
        self.classes_changed.emit()
        self.records_changed.emit(())  # thumbnails use class colours
        return True

    def remove_class(self: AnnotationDocument, class_id: int) -> bool:
        """Remove a class: its pixels read as background everywhere (undo history is cleared)."""
        if self.project is None or not self.save_now():
            return False
        try:
            self.project.remove_class(class_id)
        except (ValueError, ProjectError, KeyError) as exc:
            self.notify.emit("warning", str(exc), "")
            return False
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
        return True

