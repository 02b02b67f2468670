"""Polygon tool: click vertices, then fill the polygon with the current class.

Click adds a vertex; double-click, Enter, or a click on the first vertex closes and fills;
hold Shift while closing to erase the area instead (Shift, not Alt: Alt+double-click is
taken by Linux window managers and a bare Alt opens the menu bar; Ctrl+click is a right-click
on macOS); Backspace removes the last vertex; Esc abandons the polygon. The preview follows
the cursor. One polygon = one undo step.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from symnet_gui.canvas.raster import fill_polygon
from symnet_gui.canvas.tools.base import ToolEvent, ToolHost

__all__ = ["PolygonTool"]

_CLOSE_DISTANCE_PX = 8.0  # device pixels from the first vertex that count as "close"

#: held while closing (double-click, click on the first point, Enter): erase instead of fill
ERASE_MODIFIER = Qt.KeyboardModifier.ShiftModifier


class PolygonTool:
    name = "polygon"
    shows_brush = False

    def __init__(self) -> None:
        self._host: ToolHost | None = None
        self._points: list[QPointF] = []
        self._cursor: QPointF | None = None
        self._item: QGraphicsPathItem | None = None

    @property
    def points(self) -> list[QPointF]:
        return list(self._points)

    def activate(self, host: ToolHost) -> None:
        self._host = host

    def deactivate(self) -> None:
        self.cancel()
        self._host = None

    # --- gestures ----------------------------------------------------------------------------

    def press(self, ev: ToolEvent) -> bool:
        if self._host is None or ev.button != Qt.MouseButton.LeftButton:
            return False
        if not self._host.document.editable:
            return False
        if len(self._points) >= 3:
            first = self._points[0]
            d = ((first.x() - ev.pos.x()) ** 2 + (first.y() - ev.pos.y()) ** 2) ** 0.5 * ev.scale
            if d <= _CLOSE_DISTANCE_PX:
                self.close(erase=bool(ev.modifiers & ERASE_MODIFIER))
                return True
        self._points.append(QPointF(ev.pos))
        self._update_preview()
        return True

    def move(self, ev: ToolEvent) -> bool:
        self._cursor = QPointF(ev.pos)
        if self._points:
            self._update_preview()
        return bool(self._points)

    def release(self, ev: ToolEvent) -> bool:
        return bool(self._points)

    def double_click(self, ev: ToolEvent) -> bool:
        if len(self._points) >= 3:
            self.close(erase=bool(ev.modifiers & ERASE_MODIFIER))
            return True
        return False

    def wants_key(self, key: int) -> bool:
        return bool(self._points) and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape,
                                                Qt.Key.Key_Backspace)

    def key_press(self, key: int, modifiers: Qt.KeyboardModifier) -> bool:
        if not self._points:
            return False
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close(erase=bool(modifiers & ERASE_MODIFIER))
        elif key == Qt.Key.Key_Escape:
            self.cancel()
        elif key == Qt.Key.Key_Backspace:
            self._points.pop()
            self._update_preview()
        else:
            return False
        return True

    def close(self, erase: bool = False) -> bool:
        """Fill the polygon into the mask as one undo step; returns whether pixels changed."""
        if self._host is None or len(self._points) < 3:
            self.cancel()
            return False
        doc = self._host.document
        mask = doc.current_mask
        value = 0 if erase else doc.current_class
        pts = [(p.x(), p.y()) for p in self._points]
        self.cancel()
        if mask is None or (value <= 0 and not erase):
            return False
        result = fill_polygon(mask, pts, value)
        if result is None:
            return False
        (x, y, _, _), before, after = result
        return doc.push_patch(x, y, before, after, "Erase polygon" if erase else "Polygon", applied=False)

    def cancel(self) -> None:
        self._points.clear()
        self._cursor = None
        if self._item is not None:
            scene = self._item.scene()
            if scene is not None:
                scene.removeItem(self._item)
            self._item = None

    # --- preview -------------------------------------------------------------------------------

    def _update_preview(self) -> None:
        if self._host is None:
            return
        if self._item is None:
            self._item = QGraphicsPathItem()
            self._item.setZValue(20)
            self._host.scene().addItem(self._item)
        color = QColor(self._host.class_color(self._host.document.current_class))
        pen = QPen(QColor(255, 255, 255), 1.5)
        pen.setCosmetic(True)
        self._item.setPen(pen)
        fill = QColor(color)
        fill.setAlpha(70)
        self._item.setBrush(QBrush(fill))
        path = QPainterPath()
        if self._points:
            path.moveTo(self._points[0])
            for p in self._points[1:]:
                path.lineTo(p)
            if self._cursor is not None:
                path.lineTo(self._cursor)
            for p in self._points:  # small vertex squares, in scene units scaled by the view
                path.addEllipse(p, 0.5, 0.5)
        self._item.setPath(path)
