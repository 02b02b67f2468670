"""Review, mask and class operations on an :class:`~symnet_gui.document.document.AnnotationDocument`.

Composition, not a mixin: :class:`MainWindow` builds one :class:`StatusOps`, :class:`MaskOps`
and :class:`ClassOps` over its document and injects them into the review controller, the panels
and the action table (targets ``status``, ``mask`` and ``class_ops``). They run on the GUI thread and use only the
document's public API (``project``, ``current_key``/``current_record``, ``save_now``,
``status_applied``, ``forget_class``, ``replace_mask``, the ``notify``/``classes_changed`` signals).
The rules (what a status change requires, what is never overwritten) are the store's; these
objects turn its refusals into messages.
"""

from __future__ import annotations

from pathlib import Path

from symnet_core.project import ClassRecord, ImageRecord, ImageStatus, ProjectError
from symnet_gui.document.document import AnnotationDocument
from symnet_gui.document.mask_ops import fill_holes

__all__ = ["ClassOps", "MaskOps", "StatusOps"]


class StatusOps:
    """Accept / reject / support of one document's images (default: the current image)."""

    def __init__(self, doc: AnnotationDocument) -> None:
        self._doc = doc

    def _target(self, key: str | None) -> tuple[str, ImageRecord] | None:
        doc = self._doc
        if doc.project is None or doc.project.read_only:
            return None
        key = key or doc.current_key
        if key is None:
            return None
        if key == doc.current_key and not doc.save_now():
            return None
        return key, doc.project.image(key)

    def set_status(self, status: ImageStatus, key: str | None = None) -> bool:
        """Accept/reject/... one image (default: the current one). Returns whether it changed."""
        found = self._target(key)
        if found is None:
            return False
        key, rec = found
        if rec.status is status:
            return True
        if rec.status is ImageStatus.SUPPORT and status is not ImageStatus.SUPPORT:
            self._doc.notify.emit("info", f"{Path(key).name} is a support; press S to unmark it first.", "")
            return False
        try:
            new = self._doc.project.set_status(key, status)  # type: ignore[union-attr]
        except (ValueError, ProjectError) as exc:
            self._doc.notify.emit("warning", str(exc), "")
            return False
        self._doc.status_applied(key, new)
        return True

    def accept(self, key: str | None = None) -> bool:
        found = self._target(key)
        if found is None:
            return False
        k, rec = found
        if rec.status is ImageStatus.SUPPORT:
            return True  # already human-verified
        if rec.mask is None:
            self._doc.notify.emit("info", f"{Path(k).name} accepted as empty (nothing to label).", "")
        return self.set_status(ImageStatus.ACCEPTED, k)

    def reject(self, key: str | None = None) -> bool:
        found = self._target(key)
        if found is None:
            return False
        k, rec = found
        if rec.mask is None:
            self._doc.notify.emit("info", f"{Path(k).name} has no mask to reject.", "")
            return False
        return self.set_status(ImageStatus.REJECTED, k)

    def set_support(self, on: bool, key: str | None = None) -> bool:
        found = self._target(key)
        if found is None:
            return False
        k, rec = found
        if rec.is_support == on:
            return True
        try:
            new = self._doc.project.set_support(k, on)  # type: ignore[union-attr]
        except (ValueError, ProjectError):
            self._doc.notify.emit("warning", f"{Path(k).name} has no painted pixels yet.",
                                  "Paint the object with the brush (B), then press S.")
            return False
        self._doc.status_applied(k, new)
        return True

    def toggle_support(self) -> bool:
        rec = self._doc.current_record
        if rec is None:
            return False
        return self.set_support(not rec.is_support)



class MaskOps:
    """Whole-mask edits of the current image (clear, fill holes), each one undo step."""

    def __init__(self, doc: AnnotationDocument) -> None:
        self._doc = doc

    def clear_mask(self) -> bool:
        mask = self._doc.current_mask
        if not self._doc.editable or mask is None:
            return False
        return self._doc.replace_mask(mask * 0, "Clear mask")

    def fill_holes(self, class_id: int | None = None) -> bool:
        """Fill background regions completely enclosed by ``class_id`` (default: current class)."""
        mask = self._doc.current_mask
        if not self._doc.editable or mask is None:
            return False
        filled = fill_holes(mask, class_id or self._doc.current_class)
        if not self._doc.replace_mask(filled, "Fill holes"):
            self._doc.notify.emit("info", "No holes to fill in the current class.", "")
            return False
        return True


class ClassOps:
    """Class selection and editing (add, rename, recolour, remove) of one document."""

    def __init__(self, doc: AnnotationDocument) -> None:
        self._doc = doc

    def set_current_class(self, class_id: int) -> None:
        self._doc.set_current_class(class_id)

    def select_class_index(self, index: int) -> None:
        """Select the ``index``-th class (0-based, creation order) — digit shortcuts."""
        classes = self._doc.classes
        if 0 <= index < len(classes):
            self._doc.set_current_class(classes[index].id)

    def add_class(self, name: str, color: str | None = None) -> ClassRecord | None:
        doc = self._doc
        if doc.project is None:
            return None
        try:
            rec = doc.project.add_class(name, color)
        except (ValueError, ProjectError) as exc:
            doc.notify.emit("warning", str(exc), "")
            return None
        doc.classes_changed.emit()
        doc.set_current_class(rec.id)
        return rec

    def rename_class(self, class_id: int, name: str) -> bool:
        if not self._edit("rename_class", class_id, name):
            return False
        self._doc.classes_changed.emit()
        return True

    def recolor_class(self, class_id: int, color: str) -> bool:
        if not self._edit("recolor_class", class_id, color):
            return False
        self._doc.classes_changed.emit()
        self._doc.records_changed.emit(())  # thumbnails use class colours
        return True

    def remove_class(self, class_id: int) -> bool:
        """Remove a class: its pixels read as background everywhere (undo history is cleared)."""
        if self._doc.project is None or not self._doc.save_now():
            return False
        if not self._edit("remove_class", class_id):
            return False
        self._doc.forget_class(class_id)
        return True

    def _edit(self, method: str, *args: object) -> bool:
        project = self._doc.project
        if project is None:
            return False
        try:
            getattr(project, method)(*args)
        except (ValueError, ProjectError, KeyError) as exc:
            self._doc.notify.emit("warning", str(exc), "")
            return False
        return True
