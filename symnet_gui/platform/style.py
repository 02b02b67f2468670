"""Look of the app: a dark, neutral theme (images and mask colours carry the colour, the chrome
does not), and the one table of review-status colours and labels used everywhere.

Status colours were picked to stay distinguishable for the common colour-vision deficiencies
(each also has its own glyph and word, never colour alone) and readable on the dark panels.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from symnet_core.project import ImageStatus

__all__ = ["CANVAS_BACKGROUND", "STATUS_STYLES", "StatusStyle", "apply_theme", "status_style"]

CANVAS_BACKGROUND = "#232427"
_WINDOW = "#2e3034"
_BASE = "#26282b"
_ALT_BASE = "#2b2d31"
_TEXT = "#e3e4e8"
_DIM_TEXT = "#9a9ca3"
_ACCENT = "#4f8ff7"


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


_QSS = f"""
QMainWindow::separator {{ background: #1d1e21; width: 3px; height: 3px; }}
QDockWidget {{ color: {_TEXT}; font-weight: 600; }}
QDockWidget::title {{ background: #27292d; padding: 5px 8px; text-align: left; }}
QToolBar {{ background: {_WINDOW}; border: none; border-bottom: 1px solid #1d1e21; spacing: 3px; padding: 3px; }}
QToolButton {{ padding: 4px 6px; border-radius: 4px; }}
QToolButton:checked {{ background: #3d4f6e; }}
QToolButton:hover {{ background: #3a3c42; }}
QStatusBar {{ background: #26282b; color: {_DIM_TEXT}; }}
QStatusBar QLabel {{ color: {_DIM_TEXT}; padding: 0 6px; }}
QPushButton {{ padding: 5px 12px; border-radius: 4px; background: #3a3d43; border: 1px solid #4a4d54; }}
QPushButton:hover {{ background: #43464d; }}
QPushButton:disabled {{ color: #6d7078; background: #33353a; border-color: #3b3d42; }}
QPushButton[primary="true"] {{ background: {_ACCENT}; border-color: {_ACCENT}; color: white; font-weight: 600; }}
QPushButton[primary="true"]:hover {{ background: #6aa1fa; }}
QPushButton[primary="true"]:disabled {{ background: #3b4a63; border-color: #3b4a63; color: #9aa3b5; }}
QProgressBar {{ border: 1px solid #44474e; border-radius: 3px; background: #222326; text-align: center;
               color: {_TEXT}; height: 16px; }}
QProgressBar::chunk {{ background: {_ACCENT}; border-radius: 2px; }}
QLabel[role="hint"] {{ color: {_DIM_TEXT}; }}
QLabel[role="heading"] {{ font-weight: 600; }}
QListView, QListWidget {{ background: {_BASE}; border: none; }}
QLineEdit, QComboBox, QSpinBox, QDoubleSpinBox {{ padding: 3px 5px; }}
QScrollBar:vertical {{ background: transparent; width: 10px; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; }}
QScrollBar::handle {{ background: #4a4d55; border-radius: 4px; min-height: 24px; min-width: 24px; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: transparent; }}
"""


def apply_theme(app: QApplication) -> None:
    """Fusion style, dark palette, a few rules of style sheet."""
    app.setStyle(QStyleFactory.create("Fusion"))
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: _WINDOW,
        QPalette.ColorRole.WindowText: _TEXT,
        QPalette.ColorRole.Base: _BASE,
        QPalette.ColorRole.AlternateBase: _ALT_BASE,
        QPalette.ColorRole.ToolTipBase: "#3a3d43",
        QPalette.ColorRole.ToolTipText: _TEXT,
        QPalette.ColorRole.Text: _TEXT,
        QPalette.ColorRole.Button: "#383a40",
        QPalette.ColorRole.ButtonText: _TEXT,
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: "#3d5a8a",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: _ACCENT,
        QPalette.ColorRole.PlaceholderText: "#7c7f87",
        QPalette.ColorRole.Mid: "#44474e",
        QPalette.ColorRole.Dark: "#1d1e21",
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6d7078"))
    app.setPalette(p)
    font = app.font()
    if font.pointSizeF() < 9.5:
        font.setPointSizeF(9.5)
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    app.setFont(font)
    app.setStyleSheet(_QSS)
