"""A vertical scroll area for the side panels that never clips word-wrapped text.

``QScrollArea(widgetResizable=True)`` sizes its content from ``minimumSizeHint`` and ignores
height-for-width, so a label that wraps to two lines in a narrow dock lost its second line
(#18: "the propagation panel needs a scrollbar", the adapt row's Cancel cut off). This one sets
the content's minimum height to its layout's height for the viewport's width whenever either
changes, so everything is reachable by scrolling and nothing is cut.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QScrollArea, QWidget

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
        width = self.viewport().width()
        height = lay.totalSizeHint().height()  # hint: the layout's own wish (it may squeeze below it)
        if lay.hasHeightForWidth():
            height = max(height, lay.totalHeightForWidth(width))
        # what the children placed at the current width really need (a wrapped label's extra lines)
        bottom = lay.contentsMargins().bottom()
        for child in content.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if child.isVisibleTo(content):
                need = child.heightForWidth(child.width()) if child.hasHeightForWidth() else -1
                height = max(height, child.y() + max(child.height(), need) + bottom)
        if content.minimumHeight() < height or content.minimumHeight() > height + 2 * bottom + 40:
            content.setMinimumHeight(height)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.fit()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.widget() and event.type() in (QEvent.Type.LayoutRequest, QEvent.Type.Show):
            self._pending.start()  # after the layout has taken the new text into account
        return False
