"""Scene items of the canvas: the image, the mask overlay and the uncertainty overlay.

Frame: the scene is the oriented image's pixel grid. Scene point ``(x, y)`` lies in pixel
``(col=floor(x), row=floor(y))``; the image covers ``QRectF(0, 0, W, H)``. All items share it.

Performance on huge images (6000x4000 and up):

* :class:`ImageItem` draws only the exposed part, from the smallest pyramid level that still
  has at least one source pixel per device pixel.
* :class:`MaskItem` keeps an ARGB32 buffer the size of the mask and refreshes **only the dirty
  rectangle** of it from the class-id mask through a colour lookup table; opacity is the item's
  opacity (changing it redraws nothing). Drawing uses nearest-neighbour sampling so pixels stay
  crisp when zoomed in.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

__all__ = ["ImageItem", "MaskItem", "UncertaintyItem"]


def _device_scale(painter: QPainter) -> float:
    t = painter.deviceTransform()
    return math.hypot(t.m11(), t.m12()) or 1.0


def _exposed_pixels(option: QStyleOptionGraphicsItem, w: int, h: int) -> QRect:
    r = option.exposedRect.intersected(QRectF(0, 0, w, h))
    if r.isEmpty():
        return QRect()
    x0, y0 = max(0, math.floor(r.left())), max(0, math.floor(r.top()))
    x1, y1 = min(w, math.ceil(r.right())), min(h, math.ceil(r.bottom()))
    return QRect(x0, y0, x1 - x0, y1 - y0)


class ImageItem(QGraphicsItem):
    """The photo, drawn from a level of its pyramid."""

    def __init__(self) -> None:
        super().__init__()
        self._image = QImage()
        self._levels: tuple[QImage, ...] = ()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setZValue(0)

    def set_image(self, image: QImage, pyramid: tuple[QImage, ...] = ()) -> None:
        self.prepareGeometryChange()
        self._image = image
        self._levels = (image, *pyramid)
        self.update()

    @property
    def image(self) -> QImage:
        return self._image

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._image.width(), self._image.height())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._image.isNull():
            return
        w, h = self._image.width(), self._image.height()
        rect = _exposed_pixels(option, w, h)
        if rect.isEmpty():
            return
        scale = _device_scale(painter)
        level = self._levels[0]
        for candidate in self._levels[1:]:
            if candidate.width() / w >= scale:
                level = candidate
            else:
                break
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1.0)
        f = level.width() / w
        src = QRectF(rect.x() * f, rect.y() * f, rect.width() * f, rect.height() * f)
        painter.drawImage(QRectF(rect), level, src)


class MaskItem(QGraphicsItem):
    """Class-coloured overlay of a label mask, updated by dirty rectangles.

    Each class is drawn as a translucent fill (alpha = :meth:`set_fill_opacity`) with an opaque,
    lighter one-pixel outline on its boundary pixels, so the boundary stays visible whatever the
    colours of the image and of the class (reviewing is judging boundaries).

    The item keeps a *reference* to the document's working mask: after a tool changes pixels in
    place, :meth:`update_region` re-colours just that rectangle (plus a one-pixel rim, whose
    outline may have changed).
    """

    def __init__(self) -> None:
        super().__init__()
        self._mask: np.ndarray | None = None
        self._buf = np.zeros((0, 0), np.uint32)
        self._qimage = QImage()
        self._lut = np.zeros(256, np.uint32)
        self._edge_lut = np.zeros(256, np.uint32)
        self._fill = 0.45
        self._outline = True
        self._colors: dict[int, QColor] = {}
        self._hidden: set[int] = set()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setZValue(1)

    # --- data ------------------------------------------------------------------------------------

    def set_mask(self, mask: np.ndarray | None) -> None:
        """Show ``mask`` (kept by reference); rebuilds the whole colour buffer."""
        self.prepareGeometryChange()
        self._mask = mask
        if mask is None:
            self._buf = np.zeros((0, 0), np.uint32)
            self._qimage = QImage()
        else:
            h, w = mask.shape
            if self._buf.shape != (h, w):
                self._buf = np.zeros((h, w), np.uint32)
                self._qimage = QImage(self._buf.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied)
            self._rebuild_lut()
            self._paint(0, 0, w, h)
        self.update()

    def set_colors(self, colors: dict[int, QColor], hidden: set[int] | None = None) -> None:
        """Class id -> colour; ``hidden`` classes are not drawn. Rebuilds the buffer."""
        self._colors = dict(colors)
        self._hidden = set(hidden or ())
        self._refresh_all()

    def set_fill_opacity(self, opacity: float) -> None:
        """Opacity of the fill (0..1); outlines stay opaque. Rebuilds the buffer."""
        self._fill = max(0.0, min(1.0, float(opacity)))
        self._refresh_all()

    @property
    def fill_opacity(self) -> float:
        return self._fill

    def set_outline(self, on: bool) -> None:
        self._outline = bool(on)
        self._refresh_all()

    def _refresh_all(self) -> None:
        self._rebuild_lut()
        if self._mask is not None:
            self._paint(0, 0, self._mask.shape[1], self._mask.shape[0])
            self.update()

    def _rebuild_lut(self) -> None:
        size = 256 if self._mask is None or self._mask.dtype == np.uint8 else 65536
        size = max(size, max(self._colors, default=0) + 1)
        fill = np.zeros(size, np.uint32)
        edge = np.zeros(size, np.uint32)
        a = round(self._fill * 255)
        for cid, color in self._colors.items():
            if cid > 0 and cid not in self._hidden:
                r, g, b = color.red(), color.green(), color.blue()
                fill[cid] = (a << 24) | ((r * a // 255) << 16) | ((g * a // 255) << 8) | (b * a // 255)
                lr, lg, lb = (min(255, c + (255 - c) * 2 // 5) for c in (r, g, b))
                edge[cid] = 0xFF000000 | (lr << 16) | (lg << 8) | lb
        self._lut, self._edge_lut = fill, (edge if self._outline else fill)

    def _paint(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """Recompute the buffer on ``[y0:y1, x0:x1]`` (fill, then outlines on boundary pixels)."""
        assert self._mask is not None
        h, w = self._mask.shape
        ex0, ey0, ex1, ey1 = max(0, x0 - 1), max(0, y0 - 1), min(w, x1 + 1), min(h, y1 + 1)
        sub = self._mask[ey0:ey1, ex0:ex1]
        edge = np.zeros(sub.shape, bool)
        if sub.shape[0] > 1:
            diff = sub[1:] != sub[:-1]
            edge[1:] |= diff
            edge[:-1] |= diff
        if sub.shape[1] > 1:
            diff = sub[:, 1:] != sub[:, :-1]
            edge[:, 1:] |= diff
            edge[:, :-1] |= diff
        inner = (slice(y0 - ey0, y0 - ey0 + (y1 - y0)), slice(x0 - ex0, x0 - ex0 + (x1 - x0)))
        labels, edge = sub[inner], edge[inner] & (sub[inner] > 0)
        out = self._lut[labels]
        out[edge] = self._edge_lut[labels[edge]]
        self._buf[y0:y1, x0:x1] = out

    def update_region(self, rect: QRect) -> None:
        """Re-colour ``rect`` (pixels, plus a 1-pixel rim) from the mask; a null rect means all."""
        if self._mask is None:
            return
        h, w = self._mask.shape
        if rect.isNull():
            self._paint(0, 0, w, h)
            self.update()
            return
        r = rect.adjusted(-1, -1, 1, 1).intersected(QRect(0, 0, w, h))
        if r.isEmpty():
            return
        self._paint(r.left(), r.top(), r.right() + 1, r.bottom() + 1)
        self.update(QRectF(r))

    def class_at(self, x: int, y: int) -> int:
        if self._mask is None or not (0 <= y < self._mask.shape[0] and 0 <= x < self._mask.shape[1]):
            return 0
        return int(self._mask[y, x])

    # --- drawing ---------------------------------------------------------------------------------

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._buf.shape[1], self._buf.shape[0])

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._qimage.isNull():
            return
        rect = _exposed_pixels(option, self._qimage.width(), self._qimage.height())
        if rect.isEmpty():
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QRectF(rect), self._qimage, QRectF(rect))


class UncertaintyItem(QGraphicsItem):
    """A low-resolution heat map stretched over the image (smoothly interpolated)."""

    def __init__(self) -> None:
        super().__init__()
        self._qimage = QImage()
        self._data: np.ndarray | None = None
        self._size = (0, 0)
        self.setZValue(2)
        self.setVisible(False)

    def set_map(self, rgba: np.ndarray | None, full_size: tuple[int, int]) -> None:
        """``rgba``: ``h x w x 4`` premultiplied, any size; ``full_size``: image ``(W, H)``."""
        self.prepareGeometryChange()
        self._size = full_size
        if rgba is None:
            self._data, self._qimage = None, QImage()
        else:
            self._data = np.ascontiguousarray(rgba)
            h, w = self._data.shape[:2]
            self._qimage = QImage(self._data.data, w, h, 4 * w, QImage.Format.Format_RGBA8888_Premultiplied)
        self.update()

    @property
    def has_map(self) -> bool:
        return not self._qimage.isNull()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, *self._size)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._qimage.isNull():
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(self.boundingRect(), self._qimage)
