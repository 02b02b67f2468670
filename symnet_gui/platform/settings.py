"""User preferences: a typed dataclass saved as YAML in the user config folder.

Only preferences live here (brush size, overlay opacity, device, recent folders, shortcut
overrides). Window geometry and dock layout go to ``QSettings`` (see ``main_window.py``);
per-project choices (threshold, meta-only) go into the project's own settings.

A file that cannot be read or has wrong types never stops the app: the bad values are logged
and replaced by defaults. Writes are atomic (``symnet_core.project.atomic``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from symnet_core.project.atomic import atomic_write_bytes
from symnet_gui.platform.paths import config_dir

log = logging.getLogger(__name__)

__all__ = ["AppSettings"]

_MAX_RECENT = 10


@dataclass
class AppSettings:
    """Preferences; every field has a safe default.

    Attributes:
        brush_size: brush/eraser diameter in image pixels.
        overlay_opacity: mask overlay opacity, 0..1.
        show_overlay: whether masks are drawn at all.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` for the model.
        last_checkpoint: checkpoint loaded at start when no other is given.
        recent_folders: most recent first.
        shortcuts: overrides of :data:`symnet_gui.actions.table.ACTIONS` shortcuts, ``{action id:
            "Ctrl+K"}``; an empty string unbinds.
        thumbnail_size: long side of grid thumbnails, in logical pixels.
        autosave_delay_ms: a painted mask is written this long after the last stroke (and
            always before switching images, reviewing or propagating).
        project_views: per project folder (absolute path), this user's view state: current image,
            sort order, propagation scope, overlay opacity (:mod:`symnet_gui.platform.project_memory`).
        theme: ``auto`` (follow the desktop's light/dark setting), ``dark`` or ``light`` (View menu).
    """

    brush_size: int = 25
    overlay_opacity: float = 0.45
    show_overlay: bool = True
    device: str = "auto"
    last_checkpoint: str = ""
    recent_folders: list[str] = field(default_factory=list)
    shortcuts: dict[str, str] = field(default_factory=dict)
    thumbnail_size: int = 128
    autosave_delay_ms: int = 800
    project_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    theme: str = "auto"

    path: Path | None = field(default=None, repr=False, compare=False)

    @classmethod
    def load(cls, path: Path | None = None) -> AppSettings:
        """Read the YAML file (default ``<config dir>/settings.yaml``); defaults when absent/bad."""
        path = path or config_dir() / "settings.yaml"
        settings = cls(path=path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
        except (OSError, yaml.YAMLError) as exc:
            log.warning("ignoring unreadable settings file %s: %s", path, exc)
            raw = None
        if not isinstance(raw, dict):
            return settings
        defaults = cls()
        for f in fields(cls):
            if f.name == "path" or f.name not in raw:
                continue
            value, default = raw[f.name], getattr(defaults, f.name)
            if isinstance(default, bool) != isinstance(value, bool) or not isinstance(
                value, type(default) if not isinstance(default, float) else (int, float)
            ):
                log.warning("settings %s: ignoring %s=%r (expected %s)", path, f.name, value,
                            type(default).__name__)
                continue
            setattr(settings, f.name, value)
        settings.brush_size = max(1, min(int(settings.brush_size), 1000))
        settings.overlay_opacity = max(0.0, min(float(settings.overlay_opacity), 1.0))
        settings.shortcuts = {str(k): str(v) for k, v in settings.shortcuts.items()}
        settings.recent_folders = [str(p) for p in settings.recent_folders][:_MAX_RECENT]
        return settings

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("path", None)
        return d

    def add_recent(self, folder: str | os.PathLike[str]) -> None:
        p = os.fspath(folder)
        self.recent_folders = [p, *[r for r in self.recent_folders if r != p]][:_MAX_RECENT]

    def save(self) -> bool:
        """Write atomically; returns False (and logs) when the folder is not writable."""
        path = self.path or config_dir() / "settings.yaml"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            text = yaml.safe_dump(self.to_dict(), sort_keys=True, allow_unicode=True)
            atomic_write_bytes(path, text.encode("utf-8"))
        except OSError as exc:
            log.warning("could not save settings to %s: %s", path, exc)
            return False
        return True
