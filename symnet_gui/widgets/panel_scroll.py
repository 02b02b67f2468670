"""A vertical scroll area for the side panels that never clips word-wrapped text.

``QScrollArea(widgetResizable=True)`` sizes its content from ``minimumSizeHint`` and ignores
height-for-width, so a label that wraps to two lines in a narrow dock lost its second line
(#18: "the propagation panel needs a scrollbar", the adapt row's Cancel cut off). This one sets
the content's minimum height to its layout's height for the viewport's width whenever either
changes, so everything is reachable by scrolling and nothing is cut.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QBoxLayout, QLayout, QLayoutItem, QScrollArea, QWidget

__all__ = ["PanelScroll"]


class PanelScroll(QScrollArea):
    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(content)
        self._pending = QTimer(self, singleShot=True, interval=0)
        self._pending.timeout.connect(self.fit)
        content.installEventFilter(self)

    def fit(self) -> None:
        content = self.widget()
        lay = content.layout() if content is not None else None
        if lay is None:
            return
        height = _need(lay, self.viewport().width())
        if content.minimumHeight() != height:
            content.setMinimumHeight(height)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.fit()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.widget() and event.type() in (QEvent.Type.LayoutRequest, QEvent.Type.Show):
            self._pending.start()  # after the layout has taken the new text into account
        return False


def _item_height(item: QLayoutItem, width: int) -> int:
    widget = item.widget()
    if widget is not None:
        if widget.isHidden():
            return -1
        if widget.hasHeightForWidth():
            return widget.heightForWidth(width)  # (a wrapped label's minimum hint assumes a narrow width)
        # what it cannot do without (a list scrolls by itself; a fixed height is respected)
        need = max(widget.minimumSizeHint().height(), widget.minimumHeight())
        return min(need, widget.maximumHeight())
    sub = item.layout()
    if sub is not None:
        return _need(sub, width)
    return item.sizeHint().height() if not item.isEmpty() else 0


def _need(lay: QLayout, width: int) -> int:
    """Height ``lay`` needs at ``width`` (px) with every wrapped label at its wrapped height."""
    m = lay.contentsMargins()
    inner = max(1, width - m.left() - m.right())
    items = [lay.itemAt(i) for i in range(lay.count())]
    if isinstance(lay, QBoxLayout) and lay.direction() in (QBoxLayout.Direction.TopToBottom,
                                                            QBoxLayout.Direction.BottomToTop):
        heights = [h for h in (_item_height(it, inner) for it in items) if h >= 0]
        gap = lay.spacing() if lay.spacing() >= 0 else 6  # -1: the style's default (Fusion: 6)
        return sum(heights) + max(0, len(heights) - 1) * gap + m.top() + m.bottom()
    if isinstance(lay, QBoxLayout):  # a row: its items share the width
        share = max(1, inner // max(1, len(items)))
        return max([0, *(_item_height(it, share) for it in items)]) + m.top() + m.bottom()
    hint = lay.totalHeightForWidth(width) if lay.hasHeightForWidth() else lay.totalSizeHint().height()
    return max(hint, lay.totalSizeHint().height())
