"""The main toolbar: icons with the action's text and shortcut on hover.

Icons are drawn here with ``QPainter`` in the palette's text colour (so they follow the light and
dark themes) or taken from Qt's own standard icons (``QStyle.StandardPixmap``); nothing is
bundled, so there is no third-party icon licence to carry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QApplication, QStyle, QToolBar, QWidget

__all__ = ["TOOLBAR", "build_toolbar", "toolbar_icon"]

#: action ids in order; ``|`` = separator, ``|name`` = a widget supplied by the window
TOOLBAR = ("tool.brush", "tool.eraser", "tool.polygon", "|size", "|", "edit.undo", "edit.redo", "edit.fill_holes",
           "edit.clear", "|", "view.overlay", "|opacity", "view.uncertainty", "|", "view.fit", "view.actual", "|",
           "model.propagate", "file.export")

_SIDE = 20
_STANDARD = {
    "edit.undo": QStyle.StandardPixmap.SP_ArrowBack,
    "edit.redo": QStyle.StandardPixmap.SP_ArrowForward,
    "edit.clear": QStyle.StandardPixmap.SP_TrashIcon,
    "model.propagate": QStyle.StandardPixmap.SP_MediaPlay,
    "file.export": QStyle.StandardPixmap.SP_DialogSaveButton,
}


def _brush(p: QPainter) -> None:
    p.drawEllipse(QPointF(10, 10), 6.5, 6.5)
    p.setBrush(p.pen().color())
    p.drawEllipse(QPointF(10, 10), 2.5, 2.5)


def _eraser(p: QPainter) -> None:
    p.save()
    p.translate(10, 10)
    p.rotate(-35)
    p.drawRoundedRect(QRectF(-7, -4, 14, 8), 1.5, 1.5)
    p.drawLine(QPointF(-1, -4), QPointF(-1, 4))
    p.restore()


def _polygon(p: QPainter) -> None:
    poly = QPolygonF([QPointF(4, 15), QPointF(7, 4), QPointF(16, 6), QPointF(15, 16)])
    p.drawPolygon(poly)
    p.setBrush(p.pen().color())
    for pt in poly:
        p.drawEllipse(pt, 1.6, 1.6)


def _fill(p: QPainter) -> None:
    p.drawEllipse(QPointF(10, 10), 7, 7)
    p.setBrush(QColor(p.pen().color().red(), p.pen().color().green(), p.pen().color().blue(), 140))
    p.drawEllipse(QPointF(10, 10), 4, 4)


def _eye(p: QPainter) -> None:
    path = QPainterPath(QPointF(2, 10))
    path.quadTo(QPointF(10, 2), QPointF(18, 10))
    path.quadTo(QPointF(10, 18), QPointF(2, 10))
    p.drawPath(path)
    p.setBrush(p.pen().color())
    p.drawEllipse(QPointF(10, 10), 2.5, 2.5)


def _uncertainty(p: QPainter) -> None:
    p.drawEllipse(QPointF(10, 10), 7, 7)
    f = p.font()
    f.setPixelSize(11)
    f.setBold(True)
    p.setFont(f)
    p.drawText(QRectF(0, 0, 20, 20), int(Qt.AlignmentFlag.AlignCenter), "?")


def _fit(p: QPainter) -> None:
    for x, y, dx, dy in ((3, 3, 1, 1), (17, 3, -1, 1), (3, 17, 1, -1), (17, 17, -1, -1)):
        p.drawLine(QPointF(x, y), QPointF(x + 4 * dx, y))
        p.drawLine(QPointF(x, y), QPointF(x, y + 4 * dy))
    p.drawRect(QRectF(7, 7, 6, 6))


def _actual(p: QPainter) -> None:
    f = p.font()
    f.setPixelSize(10)
    f.setBold(True)
    p.setFont(f)
    p.drawText(QRectF(0, 0, 20, 20), int(Qt.AlignmentFlag.AlignCenter), "1:1")


_DRAWN: dict[str, Callable[[QPainter], None]] = {
    "tool.brush": _brush, "tool.eraser": _eraser, "tool.polygon": _polygon, "edit.fill_holes": _fill,
    "view.overlay": _eye, "view.uncertainty": _uncertainty, "view.fit": _fit, "view.actual": _actual,
}


def toolbar_icon(action_id: str, widget: QWidget | None = None) -> QIcon:
    """The toolbar icon of ``action_id`` (a null icon when it has none)."""
    if action_id in _STANDARD:
        style = widget.style() if widget is not None else QApplication.style()
        return style.standardIcon(_STANDARD[action_id], None, widget)
    draw = _DRAWN.get(action_id)
    if draw is None:
        return QIcon()
    palette = widget.palette() if widget is not None else QApplication.palette()
    icon = QIcon()
    for ratio in (1.0, 2.0):
        pm = QPixmap(round(_SIDE * ratio), round(_SIDE * ratio))
        pm.setDevicePixelRatio(ratio)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(QPen(palette.windowText().color(), 1.6))
        draw(p)
        p.end()
        icon.addPixmap(pm)
    return icon


def build_toolbar(actions: Mapping[str, QAction], widgets: Mapping[str, QWidget],
                  parent: QWidget) -> QToolBar:
    """Icon-only buttons (text and shortcut in the tooltip); actions without an icon show text."""
    bar = QToolBar("Tools", parent, objectName="tools")
    bar.setMovable(False)
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    for item in TOOLBAR:
        if item == "|":
            bar.addSeparator()
        elif item.startswith("|"):
            bar.addWidget(widgets[item[1:]])
        elif item in actions:
            bar.addAction(actions[item])
    refresh_icons(bar, actions)
    return bar


def refresh_icons(bar: QToolBar, actions: Mapping[str, QAction]) -> None:
    """(Re)draw the icons in the current palette (after a theme change)."""
    for item in TOOLBAR:
        if item in actions:
            actions[item].setIcon(toolbar_icon(item, bar))
