"""The state every part of an open project shares: records, mutex, journal, autosave, safe paths.

:class:`ProjectCore` is the base of :class:`~symnet_core.project.store.Project`; the image-file
reader (:mod:`.images`) and the editor (:mod:`.editing`) are separate objects that hold a
reference to it (composition), so none of those modules imports ``store`` and ``Project`` only
delegates. Durability and threading rules are described in :mod:`symnet_core.project.store`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from symnet_core.project.atomic import atomic_write_bytes
from symnet_core.project.errors import ProjectError, ProjectWriteError
from symnet_core.project.journal import Journal
from symnet_core.project.lock import ProjectLock
from symnet_core.project.paths import check_image_key, check_mask_name, inside, real_dir
from symnet_core.project.schema import (
    MASKS_DIR_NAME,
    PROJECT_FILE_NAME,
    ClassRecord,
    ImageRecord,
    ProjectState,
    RunRecord,
    app_version,
    dump_project,
    image_to_dict,
    normalize_key,
    now_iso,
)

__all__ = ["ProjectCore"]

log = logging.getLogger(__name__)


class ProjectCore:
    """Records in memory, the journal and ``project.json`` writes, and the safe path of each file."""

    #: ``project.json`` is rewritten at most this often by autosave (the journal is immediate).
    autosave_interval_s: float = 10.0
    #: ... or when the journal holds this many entries.
    autosave_max_entries: int = 2000

    def __init__(
        self,
        images_root: Path,
        project_dir: Path,
        state: ProjectState,
        *,
        read_only: bool,
        lock: ProjectLock | None,
        journal: Journal | None,
    ) -> None:
        self._root = images_root
        self._dir = project_dir
        self._st = state
        self._read_only = read_only
        self._plock = lock
        self._journal = journal
        self._mutex = threading.RLock()
        self._dirty = False
        self._closed = False
        self._last_save = time.monotonic()

    # --- read access ---------------------------------------------------------------------

    @property
    def images_root(self) -> Path:
        return self._root

    @property
    def project_dir(self) -> Path:
        return self._dir

    @property
    def masks_dir(self) -> Path:
        return self._dir / MASKS_DIR_NAME

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def dirty(self) -> bool:
        """True while ``project.json`` lags behind memory (changes may still be in the journal)."""
        return self._dirty

    @property
    def images(self) -> list[ImageRecord]:
        """All image records, naturally sorted by path (includes ``missing`` ones)."""
        with self._mutex:
            return list(self._st.images.values())

    @property
    def classes(self) -> list[ClassRecord]:
        """Classes in creation order."""
        with self._mutex:
            return list(self._st.classes.values())

    @property
    def settings(self) -> dict[str, Any]:
        """A copy of the free-form settings (change them with ``update_settings``)."""
        with self._mutex:
            return dict(self._st.settings)

    @property
    def runs(self) -> list[RunRecord]:
        """Propagation runs, oldest first."""
        with self._mutex:
            return list(self._st.runs)

    def image(self, key: str) -> ImageRecord:
        """The record of one image. Raises ``KeyError`` naming the key."""
        with self._mutex:
            try:
                return self._st.images[normalize_key(key)]
            except KeyError:
                raise KeyError(f"no image '{key}' in the project at {self._root}") from None

    def image_path(self, key: str) -> Path:
        """Absolute path of an image file (``images_root / key``).

        Raises:
            UnsafePathError: the key, or a symlink on the way, leads outside the images folder.
        """
        rec = self.image(key)
        return inside(self._root, check_image_key(rec.path, self._dir), "image")

    def mask_path(self, name: str) -> Path:
        """Path of a mask file named in a record, checked to stay inside ``.symnet/masks``.

        Raises:
            UnsafePathError: not a plain name, or a symlink leading outside the masks folder.
        """
        check_mask_name(name, self._dir)
        masks = self.masks_dir
        inside(real_dir(masks), name, "mask")
        return masks / name

    def class_by_id(self, class_id: int) -> ClassRecord:
        with self._mutex:
            try:
                return self._st.classes[class_id]
            except KeyError:
                raise KeyError(f"no class with id {class_id}") from None

    def class_by_name(self, name: str) -> ClassRecord | None:
        """The class with this name (case-insensitive), or None."""
        folded = name.strip().casefold()
        with self._mutex:
            return next((c for c in self._st.classes.values() if c.name.casefold() == folded), None)

    def supports(self, class_id: int | None = None) -> list[ImageRecord]:
        """Support images (of one class: those whose mask contains ``class_id``), not missing."""
        with self._mutex:
            return [
                r
                for r in self._st.images.values()
                if r.is_support and not r.missing and (class_id is None or class_id in r.classes_present)
            ]

    # --- writing -------------------------------------------------------------------------

    def save(self) -> None:
        """Write ``project.json`` atomically and empty the journal.

        Raises:
            ProjectWriteError: the previous ``project.json`` is intact, ``dirty`` stays True
                and the journal still holds every change.
        """
        with self._mutex:
            self._check_writable()
            data = dump_project(self._st, app_version())
            atomic_write_bytes(self._dir / PROJECT_FILE_NAME, data)
            self._st.app_version = app_version()
            if self._journal is not None:
                self._journal.reset()
            self._dirty = False
            self._last_save = time.monotonic()

    def _check_writable(self) -> None:
        if self._closed:
            raise ProjectError(f"the project at {self._root} is closed")
        if self._read_only:
            raise ProjectError(f"the project at {self._root} was opened read-only")

    def _journal_append(self, entry: dict[str, Any]) -> None:
        """Record a change that is already applied in memory (caller holds the mutex)."""
        self._dirty = True
        if self._journal is not None:
            self._journal.append(entry)
        self._maybe_autosave()

    def _maybe_autosave(self) -> None:
        j = self._journal
        due = time.monotonic() - self._last_save >= self.autosave_interval_s
        if j is not None and (due or j.entries >= self.autosave_max_entries):
            try:
                self.save()
            except ProjectWriteError as exc:  # the journal holds the changes; retry next time
                log.warning("autosave failed: %s", exc)
                self._last_save = time.monotonic()

    def _update_image(self, key: str, *, touch: bool = True, **changes: Any) -> ImageRecord:
        with self._mutex:
            self._check_writable()
            k = normalize_key(key)
            rec = self.image(k)
            if touch:
                changes.setdefault("updated", now_iso())
            new = replace(rec, **changes)
            self._st.images[k] = new
            self._journal_append({"op": "image", "record": image_to_dict(new)})
            return new

    def _note_image(self, path: str, **changes: Any) -> None:
        """Remember facts learnt by reading a file (size, error): journaled when writable, in
        memory only when read-only; a failed journal write is logged, never raised."""
        with self._mutex:
            if self._read_only or self._closed:
                k = normalize_key(path)
                self._st.images[k] = replace(self._st.images[k], **changes)
                return
            try:
                self._update_image(path, touch=False, **changes)
            except ProjectWriteError:
                log.exception("could not record what was learnt about %s", path)
