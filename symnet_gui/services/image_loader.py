"""Decode images for the canvas off the GUI thread, with a small prefetch cache.

:class:`ImageLoader` decodes the full-resolution oriented image (``symnet_core.io.images``, EXIF
applied) and the image's mask on a thread pool, converts the pixels to a display ``QImage``
(``QImage`` is reentrant: building one on a pool thread is allowed; ``QPixmap`` would not be) and
hands a :class:`LoadedView` to the GUI thread. Latest request wins: a view that is no longer
wanted is kept in the cache but not emitted.

The cache is bounded by pixels (:attr:`ImageLoader.cache_pixels`), so prefetching the next
6000x4000 image costs ~100 MB, not gigabytes.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

if TYPE_CHECKING:
    from symnet_core.project import ImageRecord, Project

log = logging.getLogger(__name__)

__all__ = ["ImageLoader", "LoadedView", "build_pyramid", "rgb_to_qimage"]


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """``H x W x 3`` uint8 RGB -> an independent ``Format_RGB32`` QImage (deep copy)."""
    h, w = rgb.shape[:2]
    arr = np.ascontiguousarray(rgb)
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).convertToFormat(QImage.Format.Format_RGB32)


@dataclass(frozen=True, eq=False)
class LoadedView:
    """One decoded image for the canvas.

    Attributes:
        key: the image key (path relative to the images root).
        record: the project record when the mask was read (compare to detect a newer mask).
        image: display pixels, ``Format_RGB32``, full resolution, oriented frame.
        mask: ``H x W`` class ids, or ``None`` when the image has no mask yet.
        error: why the image could not be shown (then ``image`` is null).
        pyramid: smoothly halved copies of ``image`` (1/2, 1/4, ...) down to ~1500 px, so a
            zoomed-out view of a huge image is drawn from a small, alias-free level.
    """

    key: str
    record: ImageRecord | None
    image: QImage
    mask: np.ndarray | None
    error: str | None = None
    pyramid: tuple[QImage, ...] = ()

    @property
    def pixels(self) -> int:
        return self.image.width() * self.image.height()


class _Relay(QObject):
    done = Signal(int, object)  # request id (0 = prefetch), LoadedView


class ImageLoader(QObject):
    """Latest-wins image decoding for the canvas. Use from the GUI thread."""

    loaded = Signal(object)  # LoadedView of the latest request

    cache_pixels = 60_000_000

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)
        self._latest = 0
        self._latest_key: str | None = None
        self._cache: OrderedDict[str, LoadedView] = OrderedDict()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def request(self, project: Project, key: str) -> int:
        """Load ``key`` for display; emits :attr:`loaded` (possibly synchronously from the cache)."""
        self._latest += 1
        rid = self._latest
        self._latest_key = key
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self.loaded.emit(cached)
            return rid
        if key not in self._pending:
            self._submit(project, key)
        return rid

    def prefetch(self, project: Project, key: str) -> None:
        if key in self._cache or key in self._pending or self._stopped:
            return
        self._submit(project, key)

    def invalidate(self, key: str | None = None) -> None:
        """Forget a cached view (``None``: all)."""
        if key is None:
            self._cache.clear()
        else:
            self._cache.pop(key, None)

    def shutdown(self) -> None:
        self._stopped = True
        self._pool.clear()
        self._pool.waitForDone()
        self._cache.clear()

    def _submit(self, project: Project, key: str) -> None:
        if self._stopped:
            return
        self._pending.add(key)
        relay = self._relay

        def job() -> None:
            relay.done.emit(0, _decode(project, key))

        self._pool.start(job)

    @Slot(int, object)
    def _on_done(self, _rid: int, view: LoadedView) -> None:
        self._pending.discard(view.key)
        if self._stopped:
            return
        if view.error is None:
            self._cache[view.key] = view
            self._cache.move_to_end(view.key)
            self._trim()
        if view.key == self._latest_key:
            self.loaded.emit(view)

    def _trim(self) -> None:
        total = sum(v.pixels for v in self._cache.values())
        while len(self._cache) > 1 and total > self.cache_pixels:
            _, old = self._cache.popitem(last=False)
            total -= old.pixels


def build_pyramid(image: QImage, min_side: int = 1500) -> tuple[QImage, ...]:
    """Halved copies of ``image`` while its long side exceeds ``min_side`` (reentrant; any thread)."""
    levels: list[QImage] = []
    current = image
    while max(current.width(), current.height()) > min_side:
        current = current.scaled(max(1, current.width() // 2), max(1, current.height() // 2),
                                 Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
        levels.append(current)
    return tuple(levels)


def _decode(project: Project, key: str) -> LoadedView:
    """Runs on a pool thread: decode image and mask; never raises."""
    try:
        img = project.read_image(key)
        qimage = rgb_to_qimage(img.rgb)
        del img
        record = project.image(key)  # before the mask: a newer write then shows as a changed record
        mask = project.get_mask(key)
        return LoadedView(key, record, qimage, mask, None, build_pyramid(qimage))
    except Exception as exc:  # ImageReadError, ProjectFormatError, MemoryError...
        log.warning("cannot show %s: %s", key, exc)
        try:
            record = project.image(key)
        except Exception:
            record = None
        return LoadedView(key, record, QImage(), None, str(exc))
