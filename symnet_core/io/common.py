"""Plain data shared by the exporters, validators and importers (no Qt, no project store).

Frames and conventions used throughout :mod:`symnet_core.io`:

* A **label mask** is a 2-D ``HxW`` array of unsigned class indices (``uint8`` or ``uint16``),
  ``0`` = background, in the **EXIF-rotated** frame of its image (the frame the user painted in).
  ``H``/``W`` equal the image's ``height``/``width`` after EXIF orientation.
* **Class ids** are the project's stable ids (``1..65535``); there is never a background category.
* **File names** are POSIX paths relative to the image root (``"sub/dir/img 01.jpg"``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MAX_CLASS_ID = 65535
"""Largest class id that fits into a ``uint16`` label mask."""


def check_relative_posix(file_name: str) -> str:
    """Return ``file_name`` if it is a clean POSIX path relative to the image root, else raise ValueError.

    Rejected: empty names, absolute paths, Windows drive letters or backslashes, and ``.``/``..``/empty
    path segments (they would make the same file appear under several names or escape the root).
    """
    if not isinstance(file_name, str) or not file_name:
        raise ValueError(f"file name must be a non-empty string, got {file_name!r}")
    if "\\" in file_name:
        raise ValueError(f"file name {file_name!r} must use '/' as separator (POSIX, relative to the image root)")
    if file_name.startswith("/") or (len(file_name) > 1 and file_name[1] == ":"):
        raise ValueError(f"file name {file_name!r} must be relative to the image root, not absolute")
    parts = file_name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"file name {file_name!r} has an empty, '.' or '..' path segment")
    return file_name


@dataclass(frozen=True, eq=False)
class ExportImage:
    """One image as the exporters see it.

    Attributes:
        file_name: POSIX path relative to the image root.
        width: image width in pixels **after** EXIF rotation.
        height: image height in pixels **after** EXIF rotation.
        label_mask: ``(height, width)`` ``uint8``/``uint16`` class indices (0 = background) in the
            EXIF-rotated frame, or ``None`` when the image has not been labelled. An all-zero mask means
            "labelled, contains no object" (a true negative), which is different from ``None``.
    """

    file_name: str
    width: int
    height: int
    label_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_relative_posix(self.file_name)
        for name in ("width", "height"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"{self.file_name}: {name} must be a positive int, got {v!r}")
        m = self.label_mask
        if m is None:
            return
        if not isinstance(m, np.ndarray) or m.ndim != 2:
            raise ValueError(f"{self.file_name}: label_mask must be a 2-D numpy array (HxW)")
        if m.shape != (self.height, self.width):
            raise ValueError(
                f"{self.file_name}: label_mask has shape {m.shape} (HxW) but the image is "
                f"{self.width}x{self.height} (WxH, after EXIF rotation)"
            )
        if m.dtype.kind not in "ui":
            raise ValueError(f"{self.file_name}: label_mask must hold integer class ids, got dtype {m.dtype}")


@dataclass(frozen=True)
class ExportCategory:
    """A project class: stable id (>= 1, never background) and name; ``color`` is optional RGB."""

    id: int
    name: str
    color: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.id, bool) or not isinstance(self.id, (int, np.integer)):
            raise ValueError(f"category id must be an int, got {self.id!r}")
        if not 1 <= int(self.id) <= MAX_CLASS_ID:
            raise ValueError(
                f"category id {self.id} for {self.name!r} must be in 1..{MAX_CLASS_ID} "
                "(0 is background and never a category)"
            )
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"category {self.id} needs a non-empty name")
        if self.color is not None and (len(self.color) != 3 or any(not 0 <= int(c) <= 255 for c in self.color)):
            raise ValueError(f"category {self.id}: color must be (r, g, b) with values 0..255")


def check_categories(categories: Iterable[ExportCategory]) -> list[ExportCategory]:
    """Materialise ``categories`` and check that ids and names are unique (ValueError otherwise)."""
    cats = list(categories)
    seen_ids: set[int] = set()
    seen_names: set[str] = set()
    for c in cats:
        if not isinstance(c, ExportCategory):
            raise TypeError(f"expected ExportCategory, got {type(c).__name__}")
        if c.id in seen_ids:
            raise ValueError(f"duplicate category id {c.id}")
        if c.name in seen_names:
            raise ValueError(f"duplicate category name {c.name!r}")
        seen_ids.add(int(c.id))
        seen_names.add(c.name)
    return cats


def default_color(class_id: int) -> tuple[int, int, int]:
    """Deterministic RGB colour for ``class_id`` (the PASCAL VOC bit-interleaving colour map; 0 = black)."""
    r = g = b = 0
    cid = int(class_id)
    for shift in range(7, -1, -1):
        r |= ((cid >> 0) & 1) << shift
        g |= ((cid >> 1) & 1) << shift
        b |= ((cid >> 2) & 1) << shift
        cid >>= 3
    return (r, g, b)


def category_color(cat: ExportCategory) -> tuple[int, int, int]:
    """The category's own colour, else :func:`default_color` of its id."""
    if cat.color is not None:
        return (int(cat.color[0]), int(cat.color[1]), int(cat.color[2]))
    return default_color(cat.id)


def present_class_ids(label_mask: np.ndarray) -> list[int]:
    """Sorted non-zero class ids present in an ``HxW`` integer label mask (ValueError on negatives)."""
    if label_mask.size == 0:
        return []
    if label_mask.dtype in (np.uint8, np.uint16):
        counts = np.bincount(label_mask.ravel())
        return [int(i) for i in np.flatnonzero(counts) if i != 0]
    values = np.unique(label_mask)
    if values.size and values[0] < 0:
        raise ValueError(f"label mask contains negative class ids ({int(values[0])})")
    return [int(v) for v in values if v != 0]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (``symnet_core.project.atomic``: temp file, fsync, ``os.replace``,
    folder fsync), creating parent folders first.

    On any failure the temp file is removed, an existing file at ``path`` is left untouched and
    ``ProjectWriteError`` (an ``OSError``) naming the file is raised.
    """
    from symnet_core.project.atomic import atomic_write_bytes as write_atomically

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, data)


_STALE_TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def remove_stale_temps(folder: str | os.PathLike[str]) -> int:
    """Delete the temporary files that :func:`atomic_write_bytes` leaves when the process is killed
    mid-write (``.<name>.<8 random chars>.tmp``) anywhere below ``folder``; returns how many.
    Call it before writing into a folder again (an export run owns its output folder)."""
    removed = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            if _STALE_TEMP.match(name):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    if removed:
        logger.info("removed %d temporary file(s) left by an interrupted export in %s", removed, folder)
    return removed


@contextlib.contextmanager
def quiet_stdout(what: str):
    """Swallow pycocotools' ``print`` output (it has no logging) and forward it to DEBUG logging.

    Note: ``contextlib.redirect_stdout`` swaps ``sys.stdout`` process-wide for the duration.
    """
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        text = buf.getvalue().strip()
        if text:
            logger.debug("%s: %s", what, text.replace("\n", " | "))


def rle_string_counts(counts: str | bytes) -> list[int]:
    """Run lengths encoded in a compressed COCO RLE ``counts`` string (read-only check, never for writing).

    Mirrors ``rleFrString`` of pycocotools' ``maskApi.c``. Needed because pycocotools 2.0.11's ``decode``
    rejects counts that sum to *more* than ``h*w`` but accepts fewer and then returns uninitialised memory
    for the rest of the mask; validators and importers call this first and compare ``sum`` with ``h*w``.
    Raises ValueError on characters outside the format, truncated values or negative run lengths.
    """
    data = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
    out: list[int] = []
    p, n = 0, len(data)
    while p < n:
        x = k = 0
        more = True
        while more:
            if p >= n:
                raise ValueError("truncated RLE counts string")
            c = data[p] - 48
            if not 0 <= c < 64:
                raise ValueError(f"invalid character {chr(data[p])!r} in RLE counts string")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        if x < 0:
            raise ValueError("negative run length in RLE counts string")
        out.append(x)
    return out


def mask_dtype_for(max_class_id: int) -> np.dtype:
    """``uint8`` when every id fits (max <= 255), else ``uint16``."""
    return np.dtype(np.uint8) if max_class_id <= 255 else np.dtype(np.uint16)
