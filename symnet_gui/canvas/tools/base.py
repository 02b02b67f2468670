"""The tool protocol: what the canvas calls, and what a tool may use of the canvas.

Events carry **scene coordinates** (the image pixel frame, see :mod:`symnet_gui.canvas.raster`).
A tool edits the mask only through the document: live changes with
``document.region_edited(rect)`` and one undo step per gesture with ``document.push_patch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor

if TYPE_CHECKING:
    from PySide6.QtWidgets import QGraphicsScene

    from symnet_gui.document.document import AnnotationDocument

__all__ = ["Tool", "ToolEvent", "ToolHost"]


@dataclass(frozen=True)
class ToolEvent:
    """A mouse event in scene coordinates. ``scale`` = device pixels per image pixel."""

    pos: QPointF
    button: Qt.MouseButton = Qt.MouseButton.NoButton
    buttons: Qt.MouseButton = Qt.MouseButton.NoButton
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
    scale: float = 1.0

    @property
    def xy(self) -> tuple[float, float]:
        return (self.pos.x(), self.pos.y())


class ToolHost(Protocol):
    """The canvas, as tools see it."""

    @property
    def document(self) -> AnnotationDocument: ...

    @property
    def brush_size(self) -> int: ...

    def scene(self) -> QGraphicsScene: ...

    def class_color(self, class_id: int) -> QColor: ...


class Tool(Protocol):
    """A canvas tool. Methods return True when they consumed the event."""

    name: str
    #: show the round brush outline under the cursor
    shows_brush: bool

    def activate(self, host: ToolHost) -> None: ...

    def deactivate(self) -> None: ...

    def press(self, ev: ToolEvent) -> bool: ...

    def move(self, ev: ToolEvent) -> bool: ...

    def release(self, ev: ToolEvent) -> bool: ...

    def double_click(self, ev: ToolEvent) -> bool: ...

    def wants_key(self, key: int) -> bool:
        """Claim a key before window shortcuts see it (e.g. Enter while drawing a polygon)."""
        ...

    def key_press(self, key: int, modifiers: Qt.KeyboardModifier) -> bool: ...

    def cancel(self) -> None:
        """Abandon a gesture in progress (image switched, tool changed)."""
        ...
