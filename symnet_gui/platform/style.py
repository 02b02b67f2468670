"""Look of the app: a dark and a light neutral theme (images and mask colours carry the colour, the
chrome does not; ``auto`` follows the desktop), and the one table of review-status colours and labels used everywhere.

Status colours were picked to stay distinguishable for the common colour-vision deficiencies
(each also has its own glyph and word, never colour alone) and readable on the dark panels.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from symnet_core.project import ImageStatus

__all__ = ["CANVAS_BACKGROUND", "STATUS_STYLES", "THEMES", "StatusStyle", "apply_theme", "current_theme",
           "status_style", "system_theme", "theme_color"]

CANVAS_BACKGROUND = "#232427"  # both themes: a dark surround lets the image and masks carry the colour

#: colours per theme; widgets that paint themselves ask :func:`theme_color` at paint time
THEMES: dict[str, dict[str, str]] = {
    "dark": {"window": "#2e3034", "base": "#26282b", "alt_base": "#2b2d31", "text": "#e3e4e8",
             "dim_text": "#9a9ca3", "accent": "#4f8ff7", "button": "#383a40", "border": "#1d1e21",
             "panel": "#2a2c30", "toast": "#34373d", "toast_border": "#474a52", "row": "#2b2d31",
             "row_selected": "#2f3f5c", "row_current": "#35507e", "thumb_bg": "#1f2023", "name": "#c9cad0",
             "tooltip": "#3a3d43", "highlight": "#3d5a8a", "disabled": "#6d7078", "mid": "#44474e",
             "hover": "#3a3c42", "checked": "#3d4f6e", "title": "#27292d", "scroll": "#4a4d55",
             "warning_text": "#f0c45a"},
    "light": {"window": "#f3f4f6", "base": "#ffffff", "alt_base": "#f7f8fa", "text": "#1f2328",
              "dim_text": "#5f6670", "accent": "#2f6fdb", "button": "#e8eaee", "border": "#c9cdd3",
              "panel": "#eceef1", "toast": "#ffffff", "toast_border": "#c9cdd3", "row": "#ffffff",
              "row_selected": "#dbe7fb", "row_current": "#c3d7f7", "thumb_bg": "#e2e4e8", "name": "#30353c",
              "tooltip": "#ffffff", "highlight": "#9fc0f2", "disabled": "#a0a5ad", "mid": "#c9cdd3",
              "hover": "#e1e4e9", "checked": "#c9daf6", "title": "#e4e6ea", "scroll": "#b9bec6",
              "warning_text": "#9a6400"},
}
_current = "dark"


def theme_color(name: str) -> QColor:
    """A colour of the theme in use (see :data:`THEMES`)."""
    return QColor(THEMES[_current][name])


def current_theme() -> str:
    return _current


def system_theme() -> str:
    """``"light"`` or ``"dark"`` from the desktop setting (``QStyleHints.colorScheme``, Qt >= 6.5);
    dark when the platform does not say."""
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None and scheme() == Qt.ColorScheme.Light:
        return "light"
    return "dark"


@dataclass(frozen=True)
class StatusStyle:
    label: str
    color: str
    glyph: str
    help: str


STATUS_STYLES: dict[ImageStatus, StatusStyle] = {
    ImageStatus.UNLABELLED: StatusStyle("Unlabelled", "#80838b", "○", "nothing yet"),
    ImageStatus.SUPPORT: StatusStyle("Support", "#b48cff", "★", "painted by you; teaches the model"),
    ImageStatus.PREDICTED: StatusStyle("Predicted", "#f0b429", "◐", "propagated, waiting for review"),
    ImageStatus.ACCEPTED: StatusStyle("Accepted", "#3ecf8e", "✓", "prediction checked and kept"),
    ImageStatus.REJECTED: StatusStyle("Rejected", "#f2545b", "✗", "prediction is wrong"),
    ImageStatus.EDITED: StatusStyle("Edited", "#45b7e8", "✎", "painted or corrected by you"),
}


def status_style(status: ImageStatus | str) -> StatusStyle:
    return STATUS_STYLES[ImageStatus(status)]


def _qss(c: dict[str, str]) -> str:
    return f"""
QMainWindow::separator {{ background: {c["border"]}; width: 3px; height: 3px; }}
QDockWidget {{ color: {c["text"]}; font-weight: 600; }}
QDockWidget::title {{ background: {c["title"]}; padding: 5px 8px; text-align: left; }}
QToolBar {{ background: {c["window"]}; border: none; border-bottom: 1px solid {c["border"]}; spacing: 3px;
            padding: 3px; }}
QToolButton {{ padding: 4px 6px; border-radius: 4px; }}
QToolButton:checked {{ background: {c["checked"]}; }}
QToolButton:hover {{ background: {c["hover"]}; }}
QStatusBar {{ background: {c["base"]}; color: {c["dim_text"]}; }}
QStatusBar QLabel {{ color: {c["dim_text"]}; padding: 0 6px; }}
QPushButton {{ padding: 5px 12px; border-radius: 4px; background: {c["button"]}; border: 1px solid {c["mid"]}; }}
QPushButton:hover {{ background: {c["hover"]}; }}
QPushButton:disabled {{ color: {c["disabled"]}; background: {c["button"]}; border-color: {c["mid"]}; }}
QPushButton[primary="true"] {{ background: {c["accent"]}; border-color: {c["accent"]}; color: white;
                               font-weight: 600; }}
QPushButton[primary="true"]:hover {{ background: #6aa1fa; }}
QPushButton[primary="true"]:disabled {{ background: #3b4a63; border-color: #3b4a63; color: #9aa3b5; }}
QProgressBar {{ border: 1px solid {c["mid"]}; border-radius: 3px; background: {c["base"]}; text-align: center;
               color: {c["text"]}; height: 16px; }}
QProgressBar::chunk {{ background: {c["accent"]}; border-radius: 2px; }}
QLabel[role="hint"] {{ color: {c["dim_text"]}; }}
QLabel[role="heading"] {{ font-weight: 600; }}
QListView, QListWidget {{ background: {c["base"]}; border: none; }}
QLineEdit, QComboBox, QSpinBox, QDoubleSpinBox {{ padding: 3px 5px; }}
QScrollBar:vertical {{ background: transparent; width: 10px; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; }}
QScrollBar::handle {{ background: {c["scroll"]}; border-radius: 4px; min-height: 24px; min-width: 24px; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: transparent; }}
"""


def apply_theme(app: QApplication, theme: str = "auto") -> str:
    """Fusion style, the palette and style sheet of ``theme`` (``auto`` = the desktop's setting,
    ``dark`` or ``light``); returns the theme applied."""
    global _current
    _current = system_theme() if theme not in THEMES else theme
    c = THEMES[_current]
    app.setStyle(QStyleFactory.create("Fusion"))
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: c["window"],
        QPalette.ColorRole.WindowText: c["text"],
        QPalette.ColorRole.Base: c["base"],
        QPalette.ColorRole.AlternateBase: c["alt_base"],
        QPalette.ColorRole.ToolTipBase: c["tooltip"],
        QPalette.ColorRole.ToolTipText: c["text"],
        QPalette.ColorRole.Text: c["text"],
        QPalette.ColorRole.Button: c["button"],
        QPalette.ColorRole.ButtonText: c["text"],
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: c["highlight"],
        QPalette.ColorRole.HighlightedText: "#ffffff" if _current == "dark" else "#000000",
        QPalette.ColorRole.Link: c["accent"],
        QPalette.ColorRole.PlaceholderText: c["disabled"],
        QPalette.ColorRole.Mid: c["mid"],
        QPalette.ColorRole.Dark: c["border"],
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(c["disabled"]))
    app.setPalette(p)
    font = app.font()
    if font.pointSizeF() < 9.5:
        font.setPointSizeF(9.5)
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    app.setFont(font)
    app.setStyleSheet(_qss(c))
    return _current
