"""Whether a window size fits a screen (the first window on a small laptop screen opens maximized)."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QScreen

__all__ = ["TITLE_BAR_ROOM", "fits_screen"]

TITLE_BAR_ROOM = 40
"""px a window manager's title bar may take above a window (unknown before the window is shown)."""


def fits_screen(size: QSize, screen: QScreen | None) -> bool:
    """Whether a window whose client area is ``size`` (px) fits ``screen``'s free area (without
    panels and docks) with room for a title bar; ``True`` when the screen is unknown."""
    if screen is None:
        return True
    room = screen.availableGeometry()
    return size.width() <= room.width() and size.height() + TITLE_BAR_ROOM <= room.height()
