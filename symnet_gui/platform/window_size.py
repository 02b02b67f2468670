"""The main window's default size, and what happens on a screen too small for it (a 1280x800 laptop:
the first window opens maximized, so the right-hand panels are on the screen, not past its edge)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QScreen
from PySide6.QtWidgets import QWidget

__all__ = ["DEFAULT_SIZE", "TITLE_BAR_ROOM", "fit_first_show", "fits_screen"]

DEFAULT_SIZE = QSize(1440, 900)
"""The main window's client size (px) when no size was saved."""

TITLE_BAR_ROOM = 40
"""px a window manager's title bar may take above a window (unknown before the window is shown)."""


def fits_screen(size: QSize, screen: QScreen | None) -> bool:
    """Whether a window whose client area is ``size`` (px) fits ``screen``'s free area (without
    panels and docks) with room for a title bar; ``True`` when the screen is unknown."""
    if screen is None:
        return True
    room = screen.availableGeometry()
    return size.width() <= room.width() and size.height() + TITLE_BAR_ROOM <= room.height()


def fit_first_show(window: QWidget) -> None:
    """Call at ``window``'s first show: still at :data:`DEFAULT_SIZE` on a screen too small for it,
    it opens maximized. A size restored from the last session (Qt keeps it on the screen) or set by
    a caller is left alone."""
    if window.size() == DEFAULT_SIZE and not fits_screen(DEFAULT_SIZE, window.screen()):
        window.setWindowState(Qt.WindowState.WindowMaximized)
