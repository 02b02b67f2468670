"""Thumbnails with the mask drawn in, generated off the GUI thread and cached.

* The plain image thumbnail is decoded at reduced size (``read_image(max_side=...)``; JPEGs use
  DCT scaling, so a 50 MP photo is never decoded in full) and cached on disk in the user cache
  folder, keyed by the file's absolute path, size and modification time.
* The mask is composited on top in memory; the cache key includes the image record (mask file,
  status, update time) and the class colours, so a new prediction or a recolour shows up.
* Requests are served newest first (what the user scrolled to now), on two pool threads;
  at most :attr:`ThumbnailCache.max_items` thumbnails stay in memory.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from symnet_core.project.atomic import atomic_write_bytes
from symnet_gui.imaging.overlays import compose_thumbnail
from symnet_gui.platform.paths import cache_dir
from symnet_gui.services.image_loader import rgb_to_qimage

if TYPE_CHECKING:
    from symnet_core.project import ImageRecord, Project

log = logging.getLogger(__name__)

__all__ = ["ThumbnailCache"]


class _Relay(QObject):
    done = Signal(str, object, object)  # key, version, QImage


class ThumbnailCache(QObject):
    """``get(record)`` returns the newest thumbnail it has (maybe stale) and schedules a fresh one."""

    ready = Signal(str)

    max_items = 3000

    def __init__(self, side: int = 112, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)
        self._project: Project | None = None
        self._images: OrderedDict[str, tuple[object, QImage]] = OrderedDict()
        self._pending: dict[str, object] = {}
        self._colors: dict[int, str] = {}
        self._priority = 0
        self._generation = 0
        self._stopped = threading.Event()
        self._disk = cache_dir() / "thumbs"

    def set_project(self, project: Project | None) -> None:
        self._pool.clear()
        self._generation += 1
        self._project = project
        self._images.clear()
        self._pending.clear()
        self.set_colors({c.id: c.color for c in project.classes} if project else {})

    def set_colors(self, colors: dict[int, str]) -> None:
        self._colors = dict(colors)

    def _version(self, rec: ImageRecord) -> object:
        return (self._generation, rec.mask, rec.status, rec.updated, rec.size, tuple(sorted(self._colors.items())))

    def get(self, rec: ImageRecord) -> QImage | None:
        if self._project is None:
            return None
        version = self._version(rec)
        entry = self._images.get(rec.path)
        if entry is not None:
            self._images.move_to_end(rec.path)
            if entry[0] == version:
                return entry[1]
        if self._pending.get(rec.path) != version and not self._stopped.is_set():
            self._pending[rec.path] = version
            self._submit(rec.path, version)
        return entry[1] if entry is not None else None

    def _submit(self, key: str, version: object) -> None:
        project, colors, side, disk, relay = self._project, dict(self._colors), self.side, self._disk, self._relay
        stopped = self._stopped

        def job() -> None:
            if stopped.is_set() or project is None:
                return
            relay.done.emit(key, version, _make(project, key, colors, side, disk))

        self._priority += 1
        self._pool.start(job, self._priority)

    @Slot(str, object, object)
    def _on_done(self, key: str, version: object, image: QImage) -> None:
        if self._pending.get(key) == version:
            del self._pending[key]
        if self._stopped.is_set() or not isinstance(version, tuple) or version[0] != self._generation:
            return
        self._images[key] = (version, image)
        self._images.move_to_end(key)
        while len(self._images) > self.max_items:
            self._images.popitem(last=False)
        self.ready.emit(key)

    def shutdown(self) -> None:
        self._stopped.set()
        self._pool.clear()
        self._pool.waitForDone()


def _disk_name(path: Path, side: int) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    raw = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{side}"
    return hashlib.sha1(raw.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest() + ".png"


def _png_bytes(rgb: np.ndarray) -> bytes:
    """PNG file bytes of an ``HxWx3`` uint8 RGB image."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError("PNG encoding failed")
    return buf.tobytes()


def _base_rgb(project: Project, key: str, side: int, disk: Path) -> np.ndarray:
    path = project.image_path(key)
    name = _disk_name(path, side)
    cached = disk / name if name else None
    if cached is not None and cached.is_file():
        img = QImage(str(cached))
        if not img.isNull():
            img = img.convertToFormat(QImage.Format.Format_RGB888)
            arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
            return arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()
    rgb = np.ascontiguousarray(project.read_image(key, max_side=side).rgb)
    if cached is not None:
        try:
            disk.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(cached, _png_bytes(rgb))
        except OSError as exc:
            log.debug("thumbnail cache not written: %s", exc)
    return rgb


def _make(project: Project, key: str, colors: dict[int, str], side: int, disk: Path) -> QImage:
    """Runs on a pool thread; never raises (an unreadable image gets a null QImage)."""
    try:
        rgb = _base_rgb(project, key, side, disk)
        try:
            mask = project.get_mask(key)
        except Exception as exc:  # a broken mask file must not hide the image
            log.debug("thumbnail of %s without mask: %s", key, exc)
            mask = None
        return rgb_to_qimage(compose_thumbnail(rgb, mask, colors))
    except Exception as exc:
        log.debug("no thumbnail for %s: %s", key, exc)
        return QImage()
