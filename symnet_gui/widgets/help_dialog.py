"""Keyboard and mouse reference, generated from the actions table (so it is never out of date)."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import QDialog, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from symnet_gui.actions.table import ACTIONS, MENUS

__all__ = ["MOUSE_HELP", "HelpDialog"]

MOUSE_HELP: tuple[tuple[str, str], ...] = (
    ("Mouse wheel", "Zoom about the cursor"),
    ("Space + drag, or middle-button drag", "Pan"),
    ("Shift + wheel / Ctrl + wheel", "Scroll sideways / up and down"),
    ("Brush: right button", "Erase without switching tools"),
    ("Polygon: click … double-click", "Fill the polygon (Shift+double-click or Shift+Enter: erase it);"
     " Backspace removes a point, Esc cancels"),
)


class HelpDialog(QDialog):
    """Non-modal list of every shortcut as currently bound."""

    def __init__(self, actions: Mapping[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(560, 680)
        rows: list[tuple[str, str, str]] = []
        for menu in MENUS:
            for spec in ACTIONS:
                action = actions.get(spec.id)
                if spec.menu != menu or action is None:
                    continue
                keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
                if spec.id.startswith("class.") and spec.id != "class.1":
                    continue  # one row for the nine class keys
                if spec.id == "class.1":
                    rows.append((menu.replace("&", ""), "Paint with class 1 … 9", "1 … 9"))
                elif keys:
                    rows.append((menu.replace("&", ""), spec.text.replace("&", ""), keys))
        rows += [("Mouse", what, how) for how, what in MOUSE_HELP]
        table = QTableWidget(len(rows), 3)
        table.setHorizontalHeaderLabels(["", "Command", "Keys"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        previous = ""
        for r, (group, text, keys) in enumerate(rows):
            shown = group if group != previous else ""
            previous = group
            for c, value in enumerate((shown, text, keys)):
                item = QTableWidgetItem(value)
                if c == 0:
                    item.setForeground(QColor("#9a9ca3"))
                table.setItem(r, c, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table = table
        note = QLabel("Shortcuts can be changed in settings.yaml (shortcuts: {action id: key}); see docs/gui.md.")
        note.setWordWrap(True)
        note.setProperty("role", "hint")
        lay = QVBoxLayout(self)
        lay.addWidget(table)
        lay.addWidget(note)
