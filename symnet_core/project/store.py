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
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from symnet_core.io.images import LoadedImage
from symnet_core.project import loading
from symnet_core.project.core import ProjectCore
from symnet_core.project.editing import Editor
from symnet_core.project.errors import ProjectExistsError, ProjectNotFoundError, ProjectWriteError
from symnet_core.project.images import ImageFiles
from symnet_core.project.journal import JOURNAL_FILE_NAME, Journal
from symnet_core.project.lock import ProjectLock
from symnet_core.project.paths import real_dir
from symnet_core.project.schema import (
    MASKS_DIR_NAME,
    PROJECT_FILE_NAME,
    ClassRecord,
    ImageRecord,
    ProjectState,
    RunRecord,
    normalize_key,
)
from symnet_core.project.status import ImageStatus

__all__ = ["Project"]

log = logging.getLogger(__name__)


class Project(ProjectCore):
    """An open annotation project. Create with :meth:`create`, :meth:`open` or :meth:`open_or_create`.

    Use as a context manager, or call :meth:`close`; an open project holds the folder's lock.
    Images are addressed by their **key**: the path relative to ``images_root`` with ``/``
    separators (``ImageRecord.path``). Reading records is :class:`ProjectCore`'s; image files
    are read by an :class:`ImageFiles` and changes made by an :class:`Editor` that this object
    owns and delegates to.
    """

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
        super().__init__(images_root, project_dir, state, read_only=read_only, lock=lock, journal=journal)
        self._files = ImageFiles(self)
        self._edit = Editor(self, self._files)

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
        _check_own_folders(pdir)
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
        _check_own_folders(pdir)
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

    def __len__(self) -> int:
        return len(self._st.images)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and normalize_key(key) in self._st.images

    def __iter__(self) -> Iterator[ImageRecord]:
        return iter(self.images)

    # --- image files (symnet_core.project.images.ImageFiles) -------------------------------

    def image_size(self, key: str) -> tuple[int, int]:
        """Oriented full-resolution ``(width, height)``, read from the header on first use."""
        return self._files.image_size(key)

    def fill_sizes(self, keys: Iterable[str] | None = None, cancel: Any = None) -> int:
        """Read every unknown size from file headers; returns how many were read."""
        return self._files.fill_sizes(keys, cancel)

    def read_image(self, key: str, max_side: int | None = None) -> LoadedImage:
        """Decode an image (:func:`symnet_core.io.images.read_image`); errors go to the record."""
        return self._files.read_image(key, max_side)

    # --- changes (symnet_core.project.editing.Editor) ----------------------------------------

    def add_class(self, name: str, color: str | None = None, *, class_id: int | None = None) -> ClassRecord:
        """Add a class; its id (next unused integer >= 1, or a free ``class_id``) is never reused."""
        return self._edit.add_class(name, color, class_id=class_id)

    def rename_class(self, class_id: int, name: str) -> ClassRecord:
        return self._edit.rename_class(class_id, name)

    def recolor_class(self, class_id: int, color: str) -> ClassRecord:
        return self._edit.recolor_class(class_id, color)

    def remove_class(self, class_id: int) -> ClassRecord:
        """Remove a class (its pixels read as background; its id is never reused)."""
        return self._edit.remove_class(class_id)

    @property
    def mask_dtype(self) -> type[np.unsignedinteger[Any]]:
        """``np.uint8`` while every class id is < 256, else ``np.uint16``."""
        return self._edit.mask_dtype

    def get_mask(self, key: str) -> np.ndarray | None:
        """The image's ``H x W`` class-index mask (:attr:`mask_dtype`), or None."""
        return self._edit.get_mask(key)

    def set_mask(self, key: str, mask: np.ndarray, status: ImageStatus | str | None = None) -> ImageRecord:
        """Store a mask painted or corrected by the user (PNG written atomically first)."""
        return self._edit.set_mask(key, mask, status)

    def store_prediction(
        self, key: str, mask: np.ndarray, *, confidence: float | None, model: str | None = None,
        run_id: str | None = None,
    ) -> bool:
        """Store a propagated mask as ``predicted`` unless the image is human-verified."""
        return self._edit.store_prediction(key, mask, confidence=confidence, model=model, run_id=run_id)

    def clear_mask(self, key: str) -> ImageRecord:
        """Forget the image's mask and make it ``unlabelled`` (the PNG stays on disk)."""
        return self._edit.clear_mask(key)

    def set_status(self, key: str, status: ImageStatus | str) -> ImageRecord:
        """Set the review status (rules in :meth:`Editor.set_status`)."""
        return self._edit.set_status(key, status)

    def set_support(self, key: str, on: bool = True) -> ImageRecord:
        """Mark/unmark an image as a support."""
        return self._edit.set_support(key, on)

    def set_confidence(self, key: str, value: float | None) -> ImageRecord:
        return self._edit.set_confidence(key, value)

    def update_settings(self, values: Mapping[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """Merge JSON-serialisable values into the settings; returns the new settings."""
        return self._edit.update_settings(values, **kw)

    def start_run(self, **fields: Any) -> RunRecord:
        """Record a new propagation run (state ``running``)."""
        return self._edit.start_run(**fields)

    def update_run(self, run_id: str, **changes: Any) -> RunRecord:
        return self._edit.update_run(run_id, **changes)


def _check_own_folders(pdir: Path) -> None:
    """Refuse a project whose ``.symnet`` or ``.symnet/masks`` is a symlink (writes would land
    wherever the link points: a project folder received from someone else must be safe to run)."""
    real_dir(pdir)
    real_dir(pdir / MASKS_DIR_NAME)
