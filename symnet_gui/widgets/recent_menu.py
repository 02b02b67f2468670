"""File ▸ Recent: the folders of ``AppSettings.recent_folders``, most recent first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QMenu, QWidget

from symnet_gui.platform.settings import AppSettings

__all__ = ["RecentMenu"]


class RecentMenu(QMenu):
    """Rebuilt each time it opens; folders that no longer exist are shown disabled."""

    def __init__(self, settings: AppSettings, open_folder: Callable[[str], object],
                 parent: QWidget | None = None) -> None:
        super().__init__("Open &recent", parent)
        self._settings = settings
        self._open = open_folder
        self.aboutToShow.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        self.clear()
        for i, folder in enumerate(self._settings.recent_folders):
            path = Path(folder)
            label = f"&{i + 1}  {path.name or folder}" if i < 9 else f"{path.name or folder}"
            action = self.addAction(label, lambda f=folder: self._open(f))
            action.setToolTip(folder)
            action.setStatusTip(folder)
            action.setEnabled(path.is_dir())
        if self.isEmpty():
            self.addAction("No recent folders").setEnabled(False)
        else:
            self.addSeparator()
            self.addAction("Clear the list", self._clear)

    def _clear(self) -> None:
        self._settings.recent_folders = []
        self._settings.save()
        self.rebuild()
