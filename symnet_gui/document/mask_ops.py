"""Whole-mask operations of the annotation document that need only numpy and OpenCV (no Qt), so
they can be tested and reused without a display. Masks are HxW integer label arrays in the image
pixel frame (0 = background, other values = class ids)."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["changed_bbox", "fill_holes"]


def fill_holes(mask: np.ndarray, class_id: int) -> np.ndarray:
    """Copy of ``mask`` (HxW label array, any integer dtype) where background (0) pixels enclosed by
    ``class_id`` become ``class_id``.

    Enclosed = not 4-connected to the image border through pixels of other values. Pixels of
    other classes inside the hole are kept.
    """
    outside = (mask != class_id).astype(np.uint8)
    h, w = mask.shape
    padded = np.ones((h + 2, w + 2), np.uint8)
    padded[1:-1, 1:-1] = outside
    flood = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(padded, flood, (0, 0), 2, flags=4)
    enclosed = padded[1:-1, 1:-1] == 1
    out = mask.copy()
    out[enclosed & (mask == 0)] = class_id
    return out


def changed_bbox(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(x, y, w, h)`` (pixels: column, row, width, height) of the pixels that differ between two
    equal-shape ``H x W`` arrays, or None when they are equal."""
    diff = before != after
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff[rows[0]: rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)
