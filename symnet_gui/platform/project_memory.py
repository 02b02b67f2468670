"""Per-project view state remembered between sessions: current image, sort, scope, opacity.

Where: in the **user** settings (``AppSettings.project_views``, keyed by the project's absolute
folder), not in the project's own file. These are one person's view choices, not part of the
annotation: a project on a shared drive is opened by several people (one at a time, it is
locked) and each keeps their own place; a read-only project cannot store anything; and a view
choice never marks the project dirty. At most :data:`MAX_PROJECTS` folders are kept (least
recently opened dropped).

The window registers each item as a ``(get, set)`` pair of callables; values must be YAML scalars.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, SignalInstance

from symnet_gui.document.document import AnnotationDocument
from symnet_gui.platform.settings import AppSettings

log = logging.getLogger(__name__)

__all__ = ["MAX_PROJECTS", "ProjectMemory"]

MAX_PROJECTS = 30


class ProjectMemory:
    """Restores the registered items when a project opens; :meth:`remember` stores them."""

    def __init__(self, settings: AppSettings, document: AnnotationDocument) -> None:
        self._settings = settings
        self._doc = document
        self._items: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {}
        self._folder: str | None = None
        self._restoring = False
        document.project_changed.connect(self._on_project_changed)
        document.image_changed.connect(lambda _k: self.remember())

    def register(self, name: str, get: Callable[[], Any], set_: Callable[[Any], None],
                 changed: SignalInstance | None = None) -> None:
        """Remember ``name`` (read with ``get``, restored with ``set_``; stored when ``changed`` fires)."""
        self._items[name] = (get, set_)
        if changed is not None:
            changed.connect(lambda *_a: self.remember())

    def remember(self) -> None:
        """Store the current values for the open project (in memory; saved with the settings)."""
        if self._folder is None or self._restoring:
            return
        entry: dict[str, Any] = {"image": self._doc.current_key or ""}
        for name, (get, _set) in self._items.items():
            entry[name] = get()
        views = self._settings.project_views
        views.pop(self._folder, None)
        views[self._folder] = entry  # most recent last
        while len(views) > MAX_PROJECTS:
            views.pop(next(iter(views)))

    def stored(self, folder: str | Path) -> dict[str, Any]:
        entry = self._settings.project_views.get(str(Path(folder).resolve()), {})
        return entry if isinstance(entry, dict) else {}

    def _on_project_changed(self) -> None:
        project = self._doc.project
        if project is None:
            self._folder = None
            return
        self._folder = str(Path(project.images_root).resolve())
        entry = self.stored(self._folder)
        self._restoring = True
        try:
            for name, (_get, set_) in self._items.items():
                if name in entry:
                    try:
                        set_(entry[name])
                    except (TypeError, ValueError) as exc:
                        log.warning("ignoring remembered %s=%r: %s", name, entry[name], exc)
        finally:
            self._restoring = False
        image = entry.get("image")
        if isinstance(image, str) and image in self._doc.keys:
            # after open() has picked its default first image (it does so after this signal)
            QTimer.singleShot(0, lambda: self._doc.select(image) if image in self._doc.keys else None)
