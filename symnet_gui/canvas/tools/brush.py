"""Brush and eraser: paint round strokes into the current mask; one stroke = one undo step.

Left button paints the current class (brush) or background (eraser); the brush's right button
erases, so correcting needs no tool switch. The stroke is drawn into the live mask as the mouse
moves (only the touched rectangle is re-coloured); on release the rectangle's before/after
pixels become one :class:`~symnet_gui.document.undo.MaskPatchCommand`.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt

from symnet_gui.canvas.raster import stamp_segment
from symnet_gui.canvas.tools.base import ToolEvent, ToolHost

__all__ = ["BrushTool", "EraserTool"]


class _StrokeTool:
    name = ""
    shows_brush = True
    erase = False

    def __init__(self) -> None:
        self._host: ToolHost | None = None
        self._snapshot: np.ndarray | None = None
        self._last: tuple[float, float] | None = None
        self._box: list[int] | None = None  # x0, y0, x1, y1 (exclusive)
        self._value = 0

    def activate(self, host: ToolHost) -> None:
        self._host = host

    def deactivate(self) -> None:
        self.cancel()
        self._host = None

    def _value_for(self, ev: ToolEvent) -> int | None:
        doc = self._host.document if self._host else None
        if doc is None:
            return None
        erase = self.erase or ev.button == Qt.MouseButton.RightButton
        if erase:
            return 0
        if doc.current_class <= 0:
            doc.notify.emit("warning", "No class to paint with.", "Add a class in the Classes panel first.")
            return None
        return doc.current_class

    def press(self, ev: ToolEvent) -> bool:
        if self._host is None or ev.button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return False
        doc = self._host.document
        if not doc.editable or doc.current_mask is None:
            return False
        value = self._value_for(ev)
        if value is None:
            return True
        self._value = value
        self._snapshot = doc.current_mask.copy()
        self._box = None
        self._last = ev.xy
        self._stamp(ev.xy, ev.xy)
        return True

    def move(self, ev: ToolEvent) -> bool:
        if self._snapshot is None or self._last is None:
            return False
        if ev.xy != self._last:
            self._stamp(self._last, ev.xy)
            self._last = ev.xy
        return True

    def _stamp(self, p0: tuple[float, float], p1: tuple[float, float]) -> None:
        assert self._host is not None
        doc = self._host.document
        mask = doc.current_mask
        if mask is None:
            return
        box = stamp_segment(mask, p0, p1, self._host.brush_size, self._value)
        if box is None:
            return
        x, y, w, h = box
        if self._box is None:
            self._box = [x, y, x + w, y + h]
        else:
            b = self._box
            self._box = [min(b[0], x), min(b[1], y), max(b[2], x + w), max(b[3], y + h)]
        doc.region_edited(QRect(x, y, w, h))

    def release(self, ev: ToolEvent) -> bool:
        if self._snapshot is None:
            return False
        assert self._host is not None
        doc = self._host.document
        snapshot, box = self._snapshot, self._box
        self._snapshot, self._last, self._box = None, None, None
        mask = doc.current_mask
        if box is None or mask is None or mask.shape != snapshot.shape:
            return True
        x0, y0, x1, y1 = box
        before = snapshot[y0:y1, x0:x1].copy()
        after = mask[y0:y1, x0:x1].copy()
        doc.push_patch(x0, y0, before, after, "Erase" if self._value == 0 else "Paint")
        return True

    def double_click(self, ev: ToolEvent) -> bool:
        return False

    def wants_key(self, key: int) -> bool:
        return False

    def key_press(self, key: int, modifiers: Qt.KeyboardModifier) -> bool:
        return False

    def cancel(self) -> None:
        """Abort a stroke in progress: put the pixels back as they were."""
        if self._snapshot is not None and self._host is not None and self._box is not None:
            doc = self._host.document
            mask = doc.current_mask
            if mask is not None and mask.shape == self._snapshot.shape:
                x0, y0, x1, y1 = self._box
                mask[y0:y1, x0:x1] = self._snapshot[y0:y1, x0:x1]
                doc.region_edited(QRect(x0, y0, x1 - x0, y1 - y0))
        self._snapshot, self._last, self._box = None, None, None


class BrushTool(_StrokeTool):
    """Paint the current class (right button: erase)."""

    name = "brush"


class EraserTool(_StrokeTool):
    """Set pixels to background, whatever their class."""

    name = "eraser"
    erase = True
