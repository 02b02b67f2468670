"""Reading a project's image files: sizes (header only) and pixels (``Project`` delegates here).

Sizes of new images are unknown after ``Project.open`` (opening never touches image files);
they are read from the file header on first use and remembered in the record. A read error is
remembered too (``ImageRecord.error``), so the GUI can flag the file without retrying it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from symnet_core.io.images import ImageReadError, LoadedImage, read_image, read_image_size
from symnet_core.project.core import ProjectCore
from symnet_core.project.paths import UnsafePathError
from symnet_core.project.schema import normalize_key

__all__ = ["ImageFiles"]

log = logging.getLogger(__name__)


class ImageFiles:
    """Image-file access of one open project (``core``: the project's shared state)."""

    def __init__(self, core: ProjectCore) -> None:
        self._p = core

    def _file(self, key: str) -> Path:
        """The image's path, refused (as an ImageReadError naming it) when it leads outside the folder."""
        try:
            return self._p.image_path(key)
        except UnsafePathError as exc:
            raise ImageReadError(self._p.images_root / self._p.image(key).path, str(exc)) from exc

    def image_size(self, key: str) -> tuple[int, int]:
        """Oriented full-resolution ``(width, height)``; read from the file header on first use.

        Raises:
            ImageReadError: unreadable (also stored in the record's ``error``).
        """
        p = self._p
        rec = p.image(key)
        if rec.size is not None:
            return rec.size
        try:
            w, h = read_image_size(self._file(key))
        except ValueError as exc:
            p._note_image(rec.path, error=getattr(exc, "reason", str(exc)))
            raise
        p._note_image(rec.path, width=w, height=h, error=None)
        return (w, h)

    def fill_sizes(self, keys: Iterable[str] | None = None, cancel: Any = None) -> int:
        """Read every unknown size from file headers (a background pass: ~0.05 ms per image).

        Sizes are cheap to re-read, so they are not journaled: one save at the end. ``cancel``
        (``is_set()``) is checked between files. Returns how many sizes were read.
        """
        p = self._p
        records = [p.image(k) for k in keys] if keys is not None else p.images
        n = 0
        for rec in records:
            if cancel is not None and cancel.is_set():
                break
            if rec.size is not None or rec.missing:
                continue
            try:
                w, h = read_image_size(self._file(rec.path))
            except ValueError as exc:
                log.warning("%s", exc)
                continue
            with p._mutex:
                k = normalize_key(rec.path)
                p._st.images[k] = replace(p._st.images[k], width=w, height=h)
                p._dirty = True
            n += 1
        if n and not p.read_only and not p.closed:
            p.save()
        return n

    def read_image(self, key: str, max_side: int | None = None) -> LoadedImage:
        """Decode an image for display or the model (:func:`symnet_core.io.images.read_image`).

        Raises:
            ImageReadError: unreadable; the reason is also stored in the record's ``error``.
        """
        p = self._p
        rec = p.image(key)
        try:
            img = read_image(self._file(key), max_side=max_side)
        except ValueError as exc:
            p._note_image(rec.path, error=getattr(exc, "reason", str(exc)))
            raise
        if rec.size != img.full_size or rec.error:
            p._note_image(rec.path, width=img.full_size[0], height=img.full_size[1], error=None)
        return img
