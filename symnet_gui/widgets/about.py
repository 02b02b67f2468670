"""Help ▸ About, Help ▸ Documentation and View ▸ Light theme: the window's small extras.

One object (action target ``extras``) so the main window stays an assembler.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import PySide6
from PySide6.QtCore import QObject, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from symnet_gui.platform.settings import AppSettings
from symnet_gui.platform.style import apply_theme, current_theme

__all__ = ["DOCS_URL", "AppExtras", "about_text"]

#: the user guide; the installed copy (a source checkout) is preferred when present
DOCS_URL = "https://github.com/symnet-annotate/symnet-annotate/blob/main/docs/gui.md"
_LOCAL_DOCS = Path(__file__).resolve().parents[2] / "docs" / "gui.md"


def _version() -> str:
    try:
        return metadata.version("symnet-annotate")
    except metadata.PackageNotFoundError:
        from symnet_core import __version__

        return __version__


def about_text(model: str) -> str:
    """Rich text for the About box: version, model in use, licences, where the docs are."""
    docs = QUrl.fromLocalFile(str(_LOCAL_DOCS)).toString() if _LOCAL_DOCS.is_file() else DOCS_URL
    return (f"<h3>symnet-annotate {_version()}</h3>"
            "<p>Few-shot segmentation annotation with a Sym-Net model: paint a few supports, "
            "propagate, review.</p>"
            f"<p><b>Model:</b> {model or 'none loaded'}</p>"
            "<p><b>License:</b> MIT (this application). Qt for Python (PySide6) is LGPLv3; model "
            "checkpoints carry their own terms (Model ▸ Models… shows them).</p>"
            f"<p>Python {platform.python_version()} · PySide6 {PySide6.__version__}</p>"
            f"<p><a href='{docs}'>User guide</a></p>")


class AppExtras(QObject):
    def __init__(self, settings: AppSettings, model_label: Callable[[], str], restyle: Callable[[], None],
                 parent: QWidget) -> None:
        super().__init__(parent)
        self._settings = settings
        self._model_label = model_label
        self._restyle = restyle
        self._parent = parent

    def show_about(self) -> None:
        box = QMessageBox(self._parent)
        box.setWindowTitle("About symnet-annotate")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(about_text(self._model_label()))
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        box.setModal(False)
        box.show()
        self.about_box = box

    def open_docs(self) -> bool:
        url = QUrl.fromLocalFile(str(_LOCAL_DOCS)) if _LOCAL_DOCS.is_file() else QUrl(DOCS_URL)
        return QDesktopServices.openUrl(url)

    def set_light_theme(self, on: bool) -> None:
        """View ▸ Light theme: switch now and remember (``theme`` in the settings)."""
        self._settings.theme = "light" if on else "dark"
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, self._settings.theme)
        self._restyle()

    @staticmethod
    def light_now() -> bool:
        return current_theme() == "light"
