"""Upsampling model-resolution maps to a full-resolution image, a band of rows at a time.

Probabilities stay at the resolution the model worked at (``h x w``, at most ~1024 px on the long
side); the full-resolution result (``H x W``, up to :data:`symnet_core.io.images.MAX_PIXELS`) is
produced in horizontal bands of about :data:`BAND_PIXELS` pixels, so a 300 MP image never holds
a full-size float32 map (1.2 GB each) — only the final ``uint8``/``uint16`` label mask is full size.

:func:`resize_rows_linear` gives the same values as ``cv2.resize(src, (W, H), INTER_LINEAR)`` on
the selected rows (half-pixel centres, edge clamping; float32 arithmetic, differences below
1e-6), and :func:`resize_rows_nearest` the same as ``INTER_NEAREST`` (``floor(y * h / H)``, OpenCV's rounding).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["BAND_PIXELS", "bands", "resize_rows_linear", "resize_rows_nearest"]

#: Pixels per band (4 MP: ~16 MB per float32 temporary).
BAND_PIXELS = 1 << 22


def bands(height: int, width: int, band_pixels: int = BAND_PIXELS) -> Iterator[tuple[int, int]]:
    """``(y0, y1)`` row ranges covering ``0..height`` with about ``band_pixels`` pixels each."""
    rows = max(1, band_pixels // max(1, width))
    for y0 in range(0, height, rows):
        yield y0, min(height, y0 + rows)


def _linear_taps(dst: np.ndarray, src_len: int, dst_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices ``(lo, hi)`` and weight of ``hi`` for destination coordinates ``dst``."""
    pos = (dst.astype(np.float64) + 0.5) * (src_len / dst_len) - 0.5
    pos = np.clip(pos, 0.0, src_len - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, src_len - 1)
    return lo, hi, (pos - lo).astype(np.float32)


def resize_rows_linear(src: np.ndarray, width: int, height: int, y0: int, y1: int) -> np.ndarray:
    """Rows ``y0:y1`` of ``src`` (``h x w`` float) bilinearly resized to ``height x width``.

    Returns ``(y1 - y0) x width`` float32.
    """
    h, w = src.shape
    src = np.asarray(src, dtype=np.float32)
    ylo, yhi, fy = _linear_taps(np.arange(y0, y1), h, height)
    rows = src[ylo] * (1.0 - fy)[:, None] + src[yhi] * fy[:, None]  # (band, w): small
    xlo, xhi, fx = _linear_taps(np.arange(width), w, width)
    out = rows[:, xlo]
    out *= 1.0 - fx
    out += rows[:, xhi] * fx
    return out


def resize_rows_nearest(src: np.ndarray, width: int, height: int, y0: int, y1: int) -> np.ndarray:
    """Rows ``y0:y1`` of ``src`` (``h x w``, any dtype) resized to ``height x width`` by nearest neighbour."""
    h, w = src.shape
    # OpenCV's arithmetic: floor(x * (1 / (dst / src))) in double precision.
    ys = np.minimum(np.floor(np.arange(y0, y1) * (1.0 / (height / h))).astype(np.intp), h - 1)
    xs = np.minimum(np.floor(np.arange(width) * (1.0 / (width / w))).astype(np.intp), w - 1)
    return src[ys][:, xs]
