"""Rasterising brush strokes and polygons into label masks (numpy + OpenCV, no Qt).

Frame: points are **scene coordinates** (image pixel frame, continuous): pixel ``(col, row)``
covers ``[col, col+1) x [row, row+1)`` and its centre is ``(col + 0.5, row + 0.5)``. A pixel is
painted when its centre lies inside the shape. OpenCV addresses pixel centres with integers,
so points are shifted by -0.5 and passed with 4 fractional bits (``shift=4``).

Every function returns the ``(x, y, w, h)`` pixel box it may have touched, clipped to the mask,
or ``None`` when the shape is entirely outside.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["clip_box", "fill_polygon", "stamp_segment"]

_SHIFT = 4
_ONE = 1 << _SHIFT


def _fx(v: float) -> int:
    return round((v - 0.5) * _ONE)


def clip_box(x0: float, y0: float, x1: float, y1: float, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """Integer box covering the continuous box ``[x0, x1] x [y0, y1]``, clipped to ``shape``."""
    h, w = shape[:2]
    a, b = max(0, math.floor(x0)), max(0, math.floor(y0))
    c, d = min(w, math.ceil(x1)), min(h, math.ceil(y1))
    if c <= a or d <= b:
        return None
    return a, b, c - a, d - b


def stamp_segment(mask: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], diameter: float,
                  value: int) -> tuple[int, int, int, int] | None:
    """Paint a round-capped segment of width ``diameter`` (pixels) from ``p0`` to ``p1``.

    ``p0 == p1`` paints a disc. Pixels whose centre is within ``diameter / 2`` of the segment
    get ``value``. Works in place on ``mask`` (``uint8``/``uint16``, C-contiguous).
    """
    r = max(0.5, diameter / 2.0)
    box = clip_box(min(p0[0], p1[0]) - r - 1, min(p0[1], p1[1]) - r - 1,
                   max(p0[0], p1[0]) + r + 1, max(p0[1], p1[1]) + r + 1, mask.shape)
    if box is None:
        return None
    v = int(value)
    rad = max(0, round((r - 0.5) * _ONE))
    for p in (p0, p1) if p0 != p1 else (p0,):
        cv2.circle(mask, (_fx(p[0]), _fx(p[1])), rad, v, thickness=-1, lineType=cv2.LINE_8, shift=_SHIFT)
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    length = math.hypot(dx, dy)
    if length > 0:
        nx, ny = -dy / length * (r - 0.5), dx / length * (r - 0.5)
        quad = np.array([[_fx(p0[0] + nx), _fx(p0[1] + ny)], [_fx(p1[0] + nx), _fx(p1[1] + ny)],
                         [_fx(p1[0] - nx), _fx(p1[1] - ny)], [_fx(p0[0] - nx), _fx(p0[1] - ny)]], np.int32)
        cv2.fillConvexPoly(mask, quad, v, lineType=cv2.LINE_8, shift=_SHIFT)
    return box


def fill_polygon(mask: np.ndarray, points: Sequence[tuple[float, float]], value: int,
                 ) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:
    """Fill a polygon (scene coordinates, >= 3 points) **without** touching ``mask``.

    Returns ``((x, y, w, h), before, after)``: the box and its pixels before and after, ready
    for an undo command; ``None`` when the polygon has fewer than 3 points or misses the mask.
    """
    if len(points) < 3:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    box = clip_box(min(xs) - 1, min(ys) - 1, max(xs) + 1, max(ys) + 1, mask.shape)
    if box is None:
        return None
    x, y, w, h = box
    before = mask[y: y + h, x: x + w].copy()
    after = before.copy()
    pts = np.array([[_fx(px - x), _fx(py - y)] for px, py in points], np.int32)
    cv2.fillPoly(after, [pts], int(value), lineType=cv2.LINE_8, shift=_SHIFT)
    return box, before, after
