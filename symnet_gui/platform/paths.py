"""Per-user folders of the app (config, data/logs, cache). Qt-free, so logging can start first.

The platform conventions come from ``platformdirs`` (XDG on Linux — ``$XDG_CONFIG_HOME`` etc. are
honoured —, ``~/Library`` on macOS, ``%LOCALAPPDATA%`` on Windows). Environment variables override
them, most specific first:

* ``SYMNET_ANNOTATE_CONFIG_DIR``, ``SYMNET_ANNOTATE_DATA_DIR``, ``SYMNET_ANNOTATE_CACHE_DIR``: one
  folder each;
* ``SYMNET_ANNOTATE_HOME`` (tests, portable installs): all three under one folder, as
  ``config/``, ``data/`` and ``cache/``.

Nothing is created at import time; callers create what they write.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_DIR_NAME = "symnet-annotate"
HOME_ENV = "SYMNET_ANNOTATE_HOME"
DIR_ENVS = {"config": "SYMNET_ANNOTATE_CONFIG_DIR", "data": "SYMNET_ANNOTATE_DATA_DIR",
            "cache": "SYMNET_ANNOTATE_CACHE_DIR"}

__all__ = ["APP_DIR_NAME", "DIR_ENVS", "HOME_ENV", "cache_dir", "config_dir", "data_dir", "log_file"]


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def _folder(kind: str) -> Path:
    own = _env_path(DIR_ENVS[kind])
    if own is not None:
        return own
    home = _env_path(HOME_ENV)
    if home is not None:
        return home / kind
    if kind == "config":
        return platformdirs.user_config_path(APP_DIR_NAME, appauthor=False)
    if kind == "data":
        return platformdirs.user_data_path(APP_DIR_NAME, appauthor=False)
    return platformdirs.user_cache_path(APP_DIR_NAME, appauthor=False)


def config_dir() -> Path:
    """Where ``settings.yaml`` lives."""
    return _folder("config")


def data_dir() -> Path:
    """Logs and the generated demo folder."""
    return _folder("data")


def cache_dir() -> Path:
    """Thumbnails (safe to delete at any time)."""
    return _folder("cache")


def log_file() -> Path:
    return data_dir() / "logs" / "symnet-annotate.log"
