"""Undo commands for mask edits. One paint stroke, polygon, fill or clear = one command.

A command stores the *before* and *after* pixels of the smallest rectangle the edit touched
(image pixel frame: ``x`` = column, ``y`` = row of the patch's top-left pixel), so a stroke on a
6000x4000 mask costs only its bounding box, and 200 steps of history fit in memory.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from PySide6.QtGui import QUndoCommand

__all__ = ["MaskPatchCommand", "PatchTarget"]


class PatchTarget(Protocol):
    """Where undo/redo writes a patch (the annotation document)."""

    def apply_patch(self, key: str, x: int, y: int, patch: np.ndarray) -> None:
        """Write ``patch`` (``h x w``, the mask's dtype) at column ``x``, row ``y`` of ``key``'s mask."""


class MaskPatchCommand(QUndoCommand):
    """Replace the rectangle at ``(x, y)`` of image ``key``'s mask.

    Args:
        applied: the edit is already in the mask (a stroke painted live); the first ``redo``
            that ``QUndoStack.push`` calls is then skipped.
    """

    def __init__(self, doc: PatchTarget, key: str, x: int, y: int, before: np.ndarray,
                 after: np.ndarray, text: str, applied: bool = True) -> None:
        super().__init__(text)
        if before.shape != after.shape:
            raise ValueError(f"patch shapes differ: {before.shape} vs {after.shape}")
        self._doc = doc
        self._key = key
        self._x, self._y = x, y
        self._before = before
        self._after = after
        self._skip = applied

    @property
    def nbytes(self) -> int:
        return self._before.nbytes + self._after.nbytes

    def redo(self) -> None:
        if self._skip:
            self._skip = False
            return
        self._doc.apply_patch(self._key, self._x, self._y, self._after)

    def undo(self) -> None:
        self._doc.apply_patch(self._key, self._x, self._y, self._before)
