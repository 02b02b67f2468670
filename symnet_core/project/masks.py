"""Mask files: one lossless PNG of class indices per image.

``0`` is background, any other value a class id. Files are 8-bit palette PNGs (the palette
holds the class colours, so a mask opens in any viewer; the *indices* are the data and the
palette is only a convenience snapshot) when every id fits in 8 bits, else 16-bit grayscale
PNGs. Arrays in memory are ``H x W`` ``uint8`` or ``uint16`` in the oriented image frame.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from symnet_core.io.images import apply_pixel_limit, pil_to_array, pixel_limit_error
from symnet_core.project.errors import ProjectFormatError

__all__ = ["decode_mask", "encode_mask", "present_ids"]


def _hex_rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def encode_mask(mask: np.ndarray, colors: dict[int, str] | None = None) -> bytes:
    """PNG bytes for an ``H x W`` integer mask (8-bit palette if ``max < 256``, else 16-bit)."""
    if int(mask.max(initial=0)) < 256:
        im = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8))  # mode "L"
        palette = [0, 0, 0] * 256
        for cid, color in (colors or {}).items():
            if 0 < cid < 256:
                palette[3 * cid : 3 * cid + 3] = _hex_rgb(color)
        im.putpalette(palette)  # turns "L" into "P" without touching the indices
    else:
        im = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint16))
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def decode_mask(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a mask PNG to ``H x W`` ``uint8``/``uint16``; raises ProjectFormatError if it is not one."""
    apply_pixel_limit()
    try:
        with Image.open(path) as im:
            why = pixel_limit_error(*im.size)
            if why:
                raise ProjectFormatError(f"mask file '{path}' is refused: {why}")
            im.load()
            if im.mode in ("P", "L"):
                return pil_to_array(im)  # P: the indices, never the palette colours
            if im.mode.startswith("I"):
                a = np.asarray(im)
                if a.min(initial=0) < 0 or a.max(initial=0) > 65535:
                    raise ProjectFormatError(f"mask file '{path}' has values outside 0..65535")
                return a.astype(np.uint16)
            raise ProjectFormatError(f"mask file '{path}' is a {im.mode} image, not a label mask")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        if isinstance(exc, ProjectFormatError):
            raise
        raise ProjectFormatError(f"mask file '{path}' cannot be read: {exc}") from exc


_CHUNK = 1 << 20  # pixels per np.bincount call in present_ids


def present_ids(mask: np.ndarray) -> tuple[int, ...]:
    """Sorted non-zero values present in ``mask`` (O(pixels), no sort of the pixels).

    Counted a million pixels at a time: ``np.bincount`` holds the GIL, and one call on a
    6000x4000 mask held it for 20-40 ms, freezing the GUI thread while a mask was written on
    another thread (the GUI's autosave, propagation). Between chunks other threads can run.
    """
    flat = mask.ravel()
    if flat.size == 0:
        return ()
    n = int(flat.max()) + 1
    counts = np.zeros(n, np.int64)
    for start in range(0, flat.size, _CHUNK):
        counts += np.bincount(flat[start : start + _CHUNK], minlength=n)
    return tuple(int(i) for i in np.flatnonzero(counts) if i != 0)
