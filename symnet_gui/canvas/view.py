"""``CanvasView``: the zoomable, pannable painting surface.

* Zoom: mouse wheel (about the cursor), Ctrl+= / Ctrl+- , fit (Ctrl+0), 1:1 (Ctrl+1). "1:1"
  means one image pixel per **device** pixel, so it is truly pixel-exact on HiDPI screens; the
  zoom percentage shown is device pixels per image pixel.
* Pan: middle-button drag, or hold Space and drag with the left button; scroll bars; the
  wheel with Shift scrolls horizontally, with Ctrl it scrolls vertically.
* Tools: mouse events are converted to scene coordinates (the image pixel frame, see
  :mod:`symnet_gui.canvas.layers`) and handed to the active tool. A round outline shows the
  brush size under the cursor.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsEllipseItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from symnet_gui.canvas.layers import ImageItem, MaskItem, UncertaintyItem
from symnet_gui.canvas.tools import Tool, ToolEvent, make_tools
from symnet_gui.document.document import AnnotationDocument
from symnet_gui.platform.style import CANVAS_BACKGROUND

__all__ = ["CanvasView"]

MIN_BRUSH, MAX_BRUSH = 1, 500
_MAX_SCALE = 64.0  # device pixels per image pixel


class _BrushOutline(QGraphicsEllipseItem):
    """Two-tone circle (dark halo + light line) visible on any image; scene-sized."""

    def paint(self, painter: QPainter, option: object, widget: QWidget | None = None) -> None:
        rect = self.rect()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for color, width in ((QColor(0, 0, 0, 170), 3.0), (QColor(255, 255, 255, 230), 1.2)):
            pen = QPen(color, width)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(rect)


class CanvasView(QGraphicsView):
    """Shows the document's current image and mask; routes mouse input to the active tool."""

    cursor_moved = Signal(int, int, int)  # x, y (pixels), class id under the cursor; x = -1 outside
    zoom_changed = Signal(float)  # device pixels per image pixel
    tool_changed = Signal(str)
    brush_size_changed = Signal(int)

    def __init__(self, document: AnnotationDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc = document
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.image_item = ImageItem()
        self.mask_item = MaskItem()
        self.uncertainty_item = UncertaintyItem()
        for item in (self.image_item, self.mask_item, self.uncertainty_item):
            self._scene.addItem(item)
        self._outline = _BrushOutline()
        self._outline.setZValue(30)
        self._outline.setVisible(False)
        self._scene.addItem(self._outline)

        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QColor(CANVAS_BACKGROUND))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)

        self._tools: dict[str, Tool] = make_tools()
        self._tool: Tool = self._tools["brush"]
        self._tool.activate(self)
        self._brush = 25
        self._fit_mode = True
        self._space = False
        self._pan_from: QPointF | None = None
        self._colors: dict[int, QColor] = {}
        self._hidden: set[int] = set()
        self._overlay_visible = True
        self._opacity = self.mask_item.fill_opacity
        self._opacity_timer = QTimer(self, singleShot=True, interval=40)
        self._opacity_timer.timeout.connect(self._apply_opacity)
        self._placeholder = "Open a folder of images to start — File ▸ Open folder… (Ctrl+O)"

        document.image_loading.connect(self._on_image_loading)
        document.image_changed.connect(self._on_image_changed)
        document.mask_changed.connect(self._on_mask_changed)
        document.classes_changed.connect(self.refresh_colors)
        document.project_changed.connect(self._on_project_changed)

    # --- ToolHost ------------------------------------------------------------------------------

    @property
    def document(self) -> AnnotationDocument:
        return self._doc

    @property
    def brush_size(self) -> int:
        return self._brush

    def class_color(self, class_id: int) -> QColor:
        return self._colors.get(class_id, QColor(255, 255, 255))

    # --- tools -----------------------------------------------------------------------------------

    @property
    def tool(self) -> Tool:
        return self._tool

    @property
    def tool_name(self) -> str:
        return self._tool.name

    def set_tool(self, name: str) -> None:
        if name not in self._tools or name == self._tool.name:
            return
        self._tool.deactivate()
        self._tool = self._tools[name]
        self._tool.activate(self)
        self._outline.setVisible(False)
        self.tool_changed.emit(name)

    def set_brush_size(self, size: int) -> None:
        size = max(MIN_BRUSH, min(MAX_BRUSH, int(size)))
        if size != self._brush:
            self._brush = size
            self._place_outline(self._outline.rect().center())
            self.brush_size_changed.emit(size)

    def change_brush_size(self, direction: int) -> None:
        """``[`` / ``]``: about 15 % per step (at least one pixel), so large and small sizes are quick."""
        step = max(1, round(self._brush * 0.15))
        self.set_brush_size(self._brush + (step if direction > 0 else -step))

    def grow_brush(self) -> None:
        self.change_brush_size(+1)

    def shrink_brush(self) -> None:
        self.change_brush_size(-1)

    # --- overlays ----------------------------------------------------------------------------------

    @Slot()
    def refresh_colors(self) -> None:
        self._colors = {c.id: QColor(c.color) for c in self._doc.classes}
        self.mask_item.set_colors(self._colors, self._hidden)

    def set_hidden_classes(self, hidden: set[int]) -> None:
        self._hidden = set(hidden)
        self.mask_item.set_colors(self._colors, self._hidden)

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_visible = bool(visible)
        self.mask_item.setVisible(self._overlay_visible)

    @property
    def overlay_visible(self) -> bool:
        return self._overlay_visible

    def set_overlay_opacity(self, opacity: float) -> None:
        """Fill opacity of the masks (outlines stay opaque); applied after a short pause so that
        dragging the slider over a huge mask does not recolour it on every step."""
        self._opacity = max(0.0, min(1.0, float(opacity)))
        self._opacity_timer.start()

    def _apply_opacity(self) -> None:
        if abs(self.mask_item.fill_opacity - self._opacity) > 1e-6:
            self.mask_item.set_fill_opacity(self._opacity)

    @property
    def overlay_opacity(self) -> float:
        return self._opacity

    # --- document signals --------------------------------------------------------------------

    @Slot(str)
    def _on_image_loading(self, _key: str) -> None:
        self._tool.cancel()
        self.viewport().update()

    @Slot(str)
    def _on_image_changed(self, _key: str) -> None:
        self._tool.cancel()
        same_size = self.image_item.image.size() == self._doc.current_image.size()
        self.image_item.set_image(self._doc.current_image, self._doc.current_pyramid)
        self._apply_opacity()
        self.mask_item.set_mask(self._doc.current_mask)
        self.uncertainty_item.set_map(None, (0, 0))
        self._scene.setSceneRect(self.image_item.boundingRect())
        if self._fit_mode or not same_size:
            self.zoom_fit()
        self.viewport().update()

    @Slot(QRect)
    def _on_mask_changed(self, rect: QRect) -> None:
        if rect.isNull() and self.mask_item._mask is not self._doc.current_mask:
            self.mask_item.set_mask(self._doc.current_mask)
        else:
            self.mask_item.update_region(rect)

    @Slot()
    def _on_project_changed(self) -> None:
        if self._doc.project is None:
            self._tool.cancel()
            self.image_item.set_image(self._doc.current_image)
            self.mask_item.set_mask(None)
            self.uncertainty_item.set_map(None, (0, 0))
        self.refresh_colors()
        self.viewport().update()

    # --- zoom ----------------------------------------------------------------------------------

    @property
    def scale_factor(self) -> float:
        """Device pixels per image pixel."""
        return self.transform().m11() * self.devicePixelRatioF()

    def _set_scale(self, device_scale: float, anchor: QPointF | None = None) -> None:
        """Set the zoom keeping the scene point under ``anchor`` (viewport pos) in place."""
        fit = self._fit_scale()
        device_scale = max(min(fit, 1.0) / 4, min(_MAX_SCALE, device_scale))
        center = QPointF(self.viewport().rect().center())
        anchor = anchor if anchor is not None else center
        before = self._scene_pos(anchor)
        s = device_scale / self.devicePixelRatioF()
        self.setTransform(QTransform.fromScale(s, s))
        self.centerOn(before + (center - anchor) / s)
        self.zoom_changed.emit(self.scale_factor)
        self._update_smoothness()

    def _update_smoothness(self) -> None:
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.scale_factor < 1.0)

    def _fit_scale(self) -> float:
        img = self.image_item.image
        if img.isNull():
            return 1.0
        vp = self.viewport().rect()
        margin = 16
        sx = max(1, vp.width() - 2 * margin) / img.width()
        sy = max(1, vp.height() - 2 * margin) / img.height()
        return min(sx, sy) * self.devicePixelRatioF()

    def zoom_fit(self) -> None:
        self._fit_mode = True
        if self.image_item.image.isNull():
            return
        s = self._fit_scale() / self.devicePixelRatioF()
        self.setTransform(QTransform.fromScale(s, s))
        self.centerOn(self.image_item.boundingRect().center())
        self.zoom_changed.emit(self.scale_factor)
        self._update_smoothness()

    def zoom_actual(self) -> None:
        """1:1 — one image pixel per device pixel."""
        self._fit_mode = False
        self._set_scale(1.0, self._cursor_anchor())

    def zoom_in(self) -> None:
        self._fit_mode = False
        self._set_scale(self.scale_factor * 1.25, self._cursor_anchor())

    def zoom_out(self) -> None:
        self._fit_mode = False
        self._set_scale(self.scale_factor / 1.25, self._cursor_anchor())

    def _cursor_anchor(self) -> QPointF | None:
        pos = self.viewport().mapFromGlobal(self.cursor().pos())
        return QPointF(pos) if self.viewport().rect().contains(pos) else None

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self._fit_mode:
            self.zoom_fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        mods = event.modifiers()
        delta = event.angleDelta()
        if mods & Qt.KeyboardModifier.ShiftModifier:
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() - (delta.y() or delta.x()))
            return
        if mods & Qt.KeyboardModifier.ControlModifier:
            bar = self.verticalScrollBar()
            bar.setValue(bar.value() - delta.y())
            return
        if delta.y() == 0:
            return
        self._fit_mode = False
        factor = math.pow(1.0015, delta.y())
        self._set_scale(self.scale_factor * factor, event.position())

    # --- mouse ---------------------------------------------------------------------------------

    def _scene_pos(self, pos: QPointF) -> QPointF:
        inverted, _ok = self.viewportTransform().inverted()
        return inverted.map(pos)

    def _tool_event(self, event: QMouseEvent) -> ToolEvent:
        return ToolEvent(self._scene_pos(event.position()), event.button(), event.buttons(), event.modifiers(),
                         self.scale_factor / self.devicePixelRatioF())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus()
        if event.button() == Qt.MouseButton.MiddleButton or (
                self._space and event.button() == Qt.MouseButton.LeftButton):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if self._tool.press(self._tool_event(event)):
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            d = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(d.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(d.y()))
            return
        ev = self._tool_event(event)
        self._place_outline(ev.pos)
        x, y = math.floor(ev.pos.x()), math.floor(ev.pos.y())
        img = self.image_item.image
        inside = 0 <= x < img.width() and 0 <= y < img.height()
        self.cursor_moved.emit(x if inside else -1, y if inside else -1, self.mask_item.class_at(x, y))
        self._tool.move(ev)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.CrossCursor)
            return
        if self._tool.release(self._tool_event(event)):
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if not self._tool.double_click(self._tool_event(event)):
            self.mousePressEvent(event)

    def _place_outline(self, center: QPointF) -> None:
        show = self._tool.shows_brush and not self._doc.current_image.isNull() and self.underMouse()
        r = self._brush / 2.0
        self._outline.setRect(QRectF(center.x() - r, center.y() - r, 2 * r, 2 * r))
        self._outline.setVisible(show)

    def enterEvent(self, event: object) -> None:
        super().enterEvent(event)  # type: ignore[arg-type]
        self._outline.setVisible(self._tool.shows_brush and not self._doc.current_image.isNull())

    def leaveEvent(self, event: object) -> None:
        super().leaveEvent(event)  # type: ignore[arg-type]
        self._outline.setVisible(False)
        self.cursor_moved.emit(-1, -1, 0)

    # --- keys ----------------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent)
                and (self._tool.wants_key(event.key()) or event.key() == Qt.Key.Key_Space)):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if self._tool.key_press(event.key(), event.modifiers()):
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
            return
        super().keyReleaseEvent(event)

    # --- placeholder -------------------------------------------------------------------------------

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawForeground(painter, rect)
        text = None
        if self._doc.project is None:
            text = self._placeholder
        elif self._doc.loading and self._doc.current_image.isNull():
            text = "Loading…"
        elif self._doc.current_error:
            text = f"This image cannot be shown:\n{self._doc.current_error}"
        elif not self._doc.keys:
            text = "This folder has no images (jpg, png, tif, bmp, webp)."
        if not text:
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(QColor(190, 192, 198))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        painter.setFont(font)
        painter.drawText(self.viewport().rect().adjusted(40, 40, -40, -40),
                         int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), text)
        painter.restore()
