"""Per-user folders of the app (config, data/logs, cache). Qt-free, so logging can start first.

``SYMNET_ANNOTATE_HOME`` (tests, portable installs) puts all three under one folder. Otherwise
the platform conventions are followed: XDG on Linux, ``~/Library`` on macOS, ``%LOCALAPPDATA%``
on Windows. Nothing is created at import time; callers create what they write.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR_NAME = "symnet-annotate"

__all__ = ["APP_DIR_NAME", "cache_dir", "config_dir", "data_dir", "log_file"]


def _home_override() -> Path | None:
    value = os.environ.get("SYMNET_ANNOTATE_HOME", "").strip()
    return Path(value).expanduser() if value else None


def _base(kind: str) -> Path:
    home = Path.home()
    if sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
        return root / APP_DIR_NAME / ("cache" if kind == "cache" else kind)
    if sys.platform == "darwin":
        if kind == "cache":
            return home / "Library" / "Caches" / APP_DIR_NAME
        return home / "Library" / "Application Support" / APP_DIR_NAME
    env, default = {
        "config": ("XDG_CONFIG_HOME", home / ".config"),
        "data": ("XDG_DATA_HOME", home / ".local" / "share"),
        "cache": ("XDG_CACHE_HOME", home / ".cache"),
    }[kind]
    return Path(os.environ.get(env) or default) / APP_DIR_NAME


def config_dir() -> Path:
    """Where ``settings.yaml`` lives."""
    override = _home_override()
    return override / "config" if override else _base("config")


def data_dir() -> Path:
    """Logs and the generated demo folder."""
    override = _home_override()
    return override / "data" if override else _base("data")


def cache_dir() -> Path:
    """Thumbnails (safe to delete at any time)."""
    override = _home_override()
    return override / "cache" if override else _base("cache")


def log_file() -> Path:
    return data_dir() / "logs" / "symnet-annotate.log"

