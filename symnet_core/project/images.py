"""Reading a project's image files: sizes (header only) and pixels (mixed into ``Project``).

Sizes of new images are unknown after ``Project.open`` (opening never touches image files);
they are read from the file header on first use and remembered in the record. A read error is
remembered too (``ImageRecord.error``), so the GUI can flag the file without retrying it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from symnet_core.io.images import LoadedImage, read_image, read_image_size
from symnet_core.project.errors import ProjectWriteError
from symnet_core.project.schema import ProjectState, normalize_key

if TYPE_CHECKING:
    from symnet_core.project.store import Project

__all__ = ["ImageAccessMixin"]

log = logging.getLogger(__name__)


class ImageAccessMixin:
    """Image-file access of :class:`~symnet_core.project.store.Project`."""

    _st: ProjectState
    _mutex: threading.RLock
    _root: Path

    def image_size(self: Project, key: str) -> tuple[int, int]:
        """Oriented full-resolution ``(width, height)``; read from the file header on first use.

        Raises:
            ImageReadError: unreadable (also stored in the record's ``error``).
        """
        rec = self.image(key)
        if rec.size is not None:
            return rec.size
        try:
            w, h = read_image_size(self._root / rec.path)
        except ValueError as exc:
            self._note_image(rec.path, error=getattr(exc, "reason", str(exc)))
            raise
        self._note_image(rec.path, width=w, height=h, error=None)
        return (w, h)

    def fill_sizes(self: Project, keys: Iterable[str] | None = None, cancel: Any = None) -> int:
        """Read every unknown size from file headers (a background pass: ~0.05 ms per image).

        Sizes are cheap to re-read, so they are not journaled: one save at the end. ``cancel``
        (``is_set()``) is checked between files. Returns how many sizes were read.
        """
        records = [self.image(k) for k in keys] if keys is not None else self.images
        n = 0
        for rec in records:
            if cancel is not None and cancel.is_set():
                break
            if rec.size is not None or rec.missing:
                continue
            try:
                w, h = read_image_size(self._root / rec.path)
            except ValueError as exc:
                log.warning("%s", exc)
                continue
            with self._mutex:
                k = normalize_key(rec.path)
                self._st.images[k] = replace(self._st.images[k], width=w, height=h)
                self._dirty = True
            n += 1
        if n and not self.read_only and not self.closed:
            self.save()
        return n

    def read_image(self: Project, key: str, max_side: int | None = None) -> LoadedImage:
        """Decode an image for display or the model (:func:`symnet_core.io.images.read_image`).

        Raises:
            ImageReadError: unreadable; the reason is also stored in the record's ``error``.
        """
        rec = self.image(key)
        try:
            img = read_image(self._root / rec.path, max_side=max_side)
        except ValueError as exc:
            self._note_image(rec.path, error=getattr(exc, "reason", str(exc)))
            raise
        if rec.size != img.full_size or rec.error:
            self._note_image(rec.path, width=img.full_size[0], height=img.full_size[1], error=None)
        return img

    def _note_image(self: Project, path: str, **changes: Any) -> None:
        """Remember facts learnt by reading a file (size, error): journaled when writable, in
        memory only when read-only; a failed journal write is logged, never raised."""
        with self._mutex:
            if self.read_only or self.closed:
                k = normalize_key(path)
                self._st.images[k] = replace(self._st.images[k], **changes)
                return
            try:
                self._update_image(path, touch=False, **changes)
            except ProjectWriteError:
                log.exception("could not record what was learnt about %s", path)
