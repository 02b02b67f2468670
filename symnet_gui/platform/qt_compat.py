"""Neutralise a reference-counting bug of PySide6 6.12.0 on Python < 3.12.

PySide6 6.12.0 returns ``None`` from every void method (``widget.update()``,
``app.processEvents()``, ``timer.start()``...) and ``True`` from ``Signal.emit()`` *without*
taking a reference. Python 3.12+ makes these singletons immortal, so nothing happens there; on
Python 3.11 every such call steals one reference, and after a few thousand calls (seconds of
normal use) the interpreter aborts with ``Fatal Python error: none_dealloc`` /
``bool_dealloc``. PySide6 6.11.x does not have the bug.

:func:`install` measures whether the running PySide6 leaks (a handful of calls, watching
``sys.getrefcount``) and only then does what Python 3.12 does: gives ``None``, ``True`` and
``False`` a reference count so large (2**40) that it can never reach zero. It logs a warning
recommending ``PySide6-Essentials < 6.12``; the proper fix is that pin. Nothing is changed when
the bindings are sound or when the singletons are already immortal.
"""

from __future__ import annotations

import ctypes
import logging
import sys

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

__all__ = ["install", "leaks_references"]

_BOOST = 1 << 40
_applied = False


class _Probe(QObject):
    fired = Signal()


def leaks_references() -> bool:
    """Whether void Qt calls or ``emit()`` drop references they do not own (measured)."""
    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(16):
        probe.setObjectName("probe")
        probe.fired.emit()
    return sys.getrefcount(None) < none_before - 8 or sys.getrefcount(True) < true_before - 8


def install() -> bool:
    """Apply the workaround when the bug is present; returns whether it is active. Idempotent."""
    global _applied
    if _applied:
        return True
    if not leaks_references():
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += _BOOST
    _applied = True
    log.warning("PySide6 %s leaks references to None/True on Python %d.%d; applied a workaround. "
                "Install PySide6-Essentials<6.12 to remove it.", pyside_version, *sys.version_info[:2])
    return True


install()
