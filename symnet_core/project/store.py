"""``Project``: the annotation project stored beside a folder of images.

Layout (the images themselves are never modified)::

    <images_root>/
        ... image files, any nesting ...
        .symnet/
            project.json        classes, image records, settings, runs (docs/project-format.md)
            journal.jsonl       changes since project.json was last written
            masks/<name>.png    one class-index PNG per image that has a mask
            lock                who has the project open

Durability policy
    * ``set_mask`` / ``store_prediction`` write the mask PNG atomically *before* returning.
    * Every change (status, support, confidence, classes, settings, sizes seen...) is appended to
      the journal and fsynced before the call returns: after a crash or ``kill -9`` nothing
      that a call completed is lost; the mask in flight is either old or new, never torn.
    * ``project.json`` itself is rewritten atomically by :meth:`Project.save`, automatically
      when at least :attr:`Project.autosave_interval_s` seconds passed since the last write (or
      the journal grew long), and by :meth:`Project.close`. ``dirty`` is True while
      ``project.json`` lags behind memory; it stays True when a write fails.

Thread safety
    Every public method takes one internal re-entrant lock, so the GUI thread may read while a
    propagation worker writes. Intended use is still *one writer at a time*; ``store_prediction``
    checks and writes under the lock, so it never overwrites a mask the user painted meanwhile.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from symnet_core.project import loading
from symnet_core.project.atomic import atomic_write_bytes
from symnet_core.project.editing import EditingMixin
from symnet_core.project.errors import (
    ProjectError,
    ProjectExistsError,
    ProjectNotFoundError,
    ProjectWriteError,
)
from symnet_core.project.images import ImageAccessMixin
from symnet_core.project.journal import JOURNAL_FILE_NAME, Journal
from symnet_core.project.lock import ProjectLock
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

__all__ = ["Project"]

log = logging.getLogger(__name__)


class Project(EditingMixin, ImageAccessMixin):
    """An open annotation project. Create with :meth:`create`, :meth:`open` or :meth:`open_or_create`.

    Use as a context manager, or call :meth:`close`; an open project holds the folder's lock.
    Images are addressed by their **key**: the path relative to ``images_root`` with ``/``
    separators (``ImageRecord.path``).
    """

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
        """Internal: use :meth:`create`, :meth:`open` or :meth:`open_or_create`."""
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

    # --- opening and closing -----------------------------------------------------------

    @classmethod
    def exists(cls, path: str | os.PathLike[str]) -> bool:
        """Whether a project exists for this images folder (or ``.symnet`` folder)."""
        return (loading.locate(path)[1] / PROJECT_FILE_NAME).is_file()

    @classmethod
    def create(
        cls,
        images_root: str | os.PathLike[str],
        classes: Iterable[str | tuple[str, str]] = (),
        settings: Mapping[str, Any] | None = None,
    ) -> Project:
        """Create a project for ``images_root`` (an existing folder) and return it open.

        Args:
            classes: class names, or ``(name, "#rrggbb")`` pairs; ids are 1, 2, ... in order.
            settings: initial free-form settings (JSON-serialisable).

        Raises:
            ProjectExistsError: a project is already there (use :meth:`open`).
            ProjectWriteError: the folder is not writable.
        """
        root, pdir = loading.locate(images_root)
        if not root.is_dir():
            raise NotADirectoryError(f"not a folder: {root}")
        if (pdir / PROJECT_FILE_NAME).exists():
            raise ProjectExistsError(f"a project already exists in '{root}'; open it instead")
        try:
            (pdir / MASKS_DIR_NAME).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectWriteError(pdir, exc, "Cannot create the project folder beside the images") from exc
        lock = ProjectLock(pdir)
        lock.acquire()
        journal = Journal(pdir / JOURNAL_FILE_NAME)
        try:
            if (pdir / PROJECT_FILE_NAME).exists():
                raise ProjectExistsError(f"a project already exists in '{root}'; open it instead")
            journal.open()
            st = ProjectState(settings=dict(settings or {}))
            project = cls(root, pdir, st, read_only=False, lock=lock, journal=journal)
            for c in classes:
                name, color = (c, None) if isinstance(c, str) else c
                project.add_class(name, color)
            loading.reconcile(st, root, pdir / MASKS_DIR_NAME)
            project.save()
        except BaseException:
            journal.close()
            lock.release()
            raise
        log.info("created project %s (%d images)", pdir, len(st.images))
        return project

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False) -> Project:
        """Open the project of an images folder (or of its ``.symnet`` folder).

        Takes the lock (a stale lock of a crashed process is taken over with a warning),
        migrates an older schema (keeping ``project.v<N>.json.bak``), replays the journal and
        reconciles with the folder: new images become ``unlabelled``, vanished ones are
        flagged ``missing`` (never deleted). No image is decoded.

        ``read_only=True`` takes no lock and writes nothing (a snapshot for export or
        inspection while another process may have the project open).

        Raises:
            ProjectNotFoundError, ProjectLockedError, ProjectVersionError, ProjectFormatError,
            ProjectWriteError.
        """
        root, pdir = loading.locate(path)
        pfile = pdir / PROJECT_FILE_NAME
        if not pfile.is_file():
            raise ProjectNotFoundError(f"no project in '{root}' ({pfile} not found)")
        if read_only:
            return cls(root, pdir, loading.load_snapshot(root, pdir), read_only=True, lock=None, journal=None)
        lock = ProjectLock(pdir)
        lock.acquire()
        journal = Journal(pdir / JOURNAL_FILE_NAME)
        try:
            st, needs_save = loading.load_locked(root, pdir)
            journal.open()
            project = cls(root, pdir, st, read_only=False, lock=lock, journal=journal)
            if needs_save:
                project._dirty = True
                project.save()
        except BaseException:
            journal.close()
            lock.release()
            raise
        return project

    @classmethod
    def open_or_create(
        cls, images_root: str | os.PathLike[str], classes: Iterable[str | tuple[str, str]] = ()
    ) -> Project:
        """Open the folder's project, creating it (with ``classes``) when there is none."""
        return cls.open(images_root) if cls.exists(images_root) else cls.create(images_root, classes)

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

    def save_if_dirty(self) -> bool:
        """Save when there are unsaved changes; returns whether it wrote. Call it from a timer."""
        with self._mutex:
            if not self._dirty or self._read_only or self._closed:
                return False
            self.save()
            return True

    def close(self, save: bool = True) -> None:
        """Save (unless ``save=False``: the journal still keeps every change) and release the lock.

        If saving fails, :class:`ProjectWriteError` is raised and the project stays open.
        """
        with self._mutex:
            if self._closed:
                return
            if save and not self._read_only:
                self.save_if_dirty()
            self._closed = True
            if self._journal is not None:
                self._journal.close()
            if self._plock is not None:
                self._plock.release()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            self.close()
        except ProjectWriteError:
            if exc_type is None:
                raise
            log.exception("could not save %s while handling another error", self._dir)
            self.close(save=False)

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
        """A copy of the free-form settings (change them with :meth:`update_settings`)."""
        with self._mutex:
            return dict(self._st.settings)

    @property
    def runs(self) -> list[RunRecord]:
        """Propagation runs, oldest first."""
        with self._mutex:
            return list(self._st.runs)

    def __len__(self) -> int:
        return len(self._st.images)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and normalize_key(key) in self._st.images

    def __iter__(self) -> Iterator[ImageRecord]:
        return iter(self.images)

    def image(self, key: str) -> ImageRecord:
        """The record of one image. Raises ``KeyError`` naming the key."""
        with self._mutex:
            try:
                return self._st.images[normalize_key(key)]
            except KeyError:
                raise KeyError(f"no image '{key}' in the project at {self._root}") from None

    def image_path(self, key: str) -> Path:
        """Absolute path of an image file."""
        return self._root / self.image(key).path

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

    # --- internals shared with the mixins ---------------------------------------------------

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
