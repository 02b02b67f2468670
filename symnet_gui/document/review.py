"""Keyboard-driven review: accept/reject and move on, next/previous (unreviewed) image.

Navigation follows the image list's current sort order. "To review" means ``predicted``.
When a filter hides the image just reviewed (e.g. "To review" after accepting), the next image
is still found from where that image was, using the order captured when it was shown.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from PySide6.QtCore import QObject, Slot

from symnet_core.project import ImageStatus
from symnet_gui.document.document import AnnotationDocument
from symnet_gui.document.ops import StatusOps
from symnet_gui.widgets.notifications import NotificationCenter

__all__ = ["ReviewController"]

TO_REVIEW = frozenset({ImageStatus.PREDICTED})


class ReviewController(QObject):
    """Action targets for review. ``order()`` returns every key in the list's sort order."""

    def __init__(self, document: AnnotationDocument, status: StatusOps, order: Callable[[], list[str]],
                 notes: NotificationCenter, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._doc = document
        self._status = status
        self._order = order
        self._notes = notes
        self._snapshot: list[str] = []
        document.image_changed.connect(self._on_image_changed)

    @Slot(str)
    def _on_image_changed(self, key: str) -> None:
        self._snapshot = self._order()
        self._prefetch_next(key)

    def _sequence(self) -> list[str]:
        current = self._order()
        key = self._doc.current_key
        if key is not None and key not in current:
            return self._snapshot or current
        return current

    def _step(self, forward: bool, wanted: frozenset[ImageStatus] | None) -> str | None:
        seq = self._sequence()
        if not seq:
            return None
        key = self._doc.current_key
        start = seq.index(key) if key in seq else -1
        n = len(seq)
        for i in range(1, n + 1):
            j = (start + i) % n if forward else (start - i) % n
            if j == start:
                continue
            candidate = seq[j]
            if wanted is None or self._doc.record(candidate).status in wanted:
                return candidate
        return None

    def _go(self, key: str | None, empty_message: str) -> bool:
        if key is None:
            self._notes.info(empty_message)
            return False
        self._doc.select(key)
        return True

    def _prefetch_next(self, key: str) -> None:
        nxt = self._step(True, TO_REVIEW) or self._step(True, None)
        if nxt is not None and nxt != key:
            self._doc.prefetch(nxt)

    # --- action targets ------------------------------------------------------------------------

    def next_image(self) -> bool:
        return self._go(self._step(True, None), "No other image.")

    def previous_image(self) -> bool:
        return self._go(self._step(False, None), "No other image.")

    def next_unreviewed(self) -> bool:
        return self._go(self._step(True, TO_REVIEW), "Nothing left to review — every prediction has been checked.")

    def previous_unreviewed(self) -> bool:
        return self._go(self._step(False, TO_REVIEW), "Nothing left to review.")

    def accept_and_next(self) -> bool:
        nxt = self._step(True, TO_REVIEW)  # decided before the list re-filters
        if self._doc.current_key is None or not self._status.accept():
            return False
        if nxt is None:
            self._notes.info("Accepted. Nothing left to review.")
            return True
        self._doc.select(nxt)
        return True

    def reject_and_next(self) -> bool:
        nxt = self._step(True, TO_REVIEW)
        if self._doc.current_key is None or not self._status.reject():
            return False
        if nxt is not None:
            self._doc.select(nxt)
        return True

    def toggle_support(self) -> bool:
        key = self._doc.current_key
        if key is None:
            return False
        was = self._doc.current_record is not None and self._doc.current_record.is_support
        ok = self._status.toggle_support()
        if ok:
            name = PurePosixPath(key).name
            self._notes.info(f"{name} is no longer a support." if was else f"{name} is now a support.",
                             "" if was else "Propagate (Ctrl+R) to use it.")
        return ok
