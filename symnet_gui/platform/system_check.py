"""Can the desktop app start here? One-line answers instead of tracebacks or Qt aborts. Qt-free.

Two things stop the window from opening on a fresh machine, and neither explains itself well:

* the ``gui`` extra is not installed (no PySide6): ``import PySide6`` raises ``ModuleNotFoundError``;
* on Linux/X11, Qt's ``xcb`` platform plugin cannot load because a system library is missing
  (``libxcb-icccm4``, ``libxcb-keysyms1``... are absent from minimal Debian/Ubuntu images). Qt
  then prints a misleading message (it blames ``libxcb-cursor0``) and *aborts* the process, so the
  check must happen before the ``QApplication`` is created.

:func:`gui_problem` runs both checks and returns the one line to print, or ``""`` when the window
can be tried. The package list is the one README.md ("System packages") gives, measured with
``ldd`` on PySide6's ``Qt/plugins/platforms/libqxcb.so``.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import sys
from pathlib import Path

__all__ = ["APT_COMMAND", "GUI_EXTRA_HINT", "gui_problem", "missing_pyside_message", "plugin_load_error",
           "uses_xcb", "xcb_plugin_path"]

#: Debian 12 / Ubuntu 22.04 package names (Ubuntu 24.04 renames ``libglib2.0-0`` to ``libglib2.0-0t64``).
APT_PACKAGES = (
    "libgl1", "libegl1", "libfontconfig1", "libglib2.0-0", "libdbus-1-3", "libxkbcommon0", "libxkbcommon-x11-0",
    "libx11-xcb1", "libxcb-cursor0", "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0",
    "libxcb-render-util0", "libxcb-shape0", "libxcb-sync1", "libxcb-xfixes0", "libxcb-xkb1",
)
APT_COMMAND = "sudo apt-get install -y " + " ".join(APT_PACKAGES)
GUI_EXTRA_HINT = 'pip install "symnet-annotate[gui]"'


def missing_pyside_message() -> str:
    """``""`` when PySide6's widgets import, else the one line that says what to install."""
    try:
        importlib.import_module("PySide6.QtWidgets")
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "PySide6":
            raise
        return (f"symnet-annotate: the desktop app needs the 'gui' extra (PySide6 is not installed): "
                f"{GUI_EXTRA_HINT}  (the headless commands work without it)")
    except ImportError as exc:  # PySide6 is there but a system library of Qt is not (libGL, libEGL...)
        return f"symnet-annotate: Qt cannot load ({exc}); on Debian/Ubuntu install its libraries: {APT_COMMAND}"
    return ""


def uses_xcb(environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """Whether Qt will pick the X11 ``xcb`` plugin: Linux, no other platform asked for, no Wayland session."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return False
    requested = env.get("QT_QPA_PLATFORM", "").strip().split(":")[0].split(";")[0]
    if requested:
        return requested == "xcb"
    return not env.get("WAYLAND_DISPLAY")


def xcb_plugin_path() -> Path | None:
    """PySide6's ``libqxcb.so`` (None when PySide6 or the plugin is absent)."""
    try:
        import PySide6  # the package __init__ only; no Qt library is loaded by this
    except ImportError:
        return None
    path = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def plugin_load_error(path: str | os.PathLike[str]) -> str:
    """``""`` when the shared library at ``path`` and all its dependencies load, else the loader's error.

    Loads the library into this process (``dlopen``): Qt loads the very same file a moment later.
    """
    try:
        ctypes.CDLL(os.fspath(path))
    except OSError as exc:
        return str(exc)
    return ""


def gui_problem() -> str:
    """The one line that says why the window cannot open here, or ``""``."""
    message = missing_pyside_message()
    if message or not uses_xcb():
        return message
    plugin = xcb_plugin_path()
    error = plugin_load_error(plugin) if plugin is not None else ""
    if not error:
        return ""
    error = error.replace(os.fspath(plugin), plugin.name)
    return (f"symnet-annotate: Qt's X11 platform plugin cannot load ({error}); "
            f"on Debian/Ubuntu install: {APT_COMMAND}  (or run headless with QT_QPA_PLATFORM=offscreen)")
