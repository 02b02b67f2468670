"""Classes: name (the model's text prompt), colour, visibility; the current painting class."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from symnet_gui.document.document import AnnotationDocument
from symnet_gui.document.ops import ClassOps

__all__ = ["ClassPanel"]


def _swatch(color: str, size: int = 14) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(color))
    p.setPen(QColor(255, 255, 255, 90))
    p.drawRoundedRect(1, 1, size - 2, size - 2, 3, 3)
    p.end()
    return QIcon(pm)


class ClassPanel(QWidget):
    """The class table. Checkbox = shown on the canvas; selected row = the class painted."""

    def __init__(self, document: AnnotationDocument, ops: ClassOps, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc = document
        self._ops = ops
        self._hidden: set[int] = set()
        self._on_hidden = None
        self.list = QListWidget()
        self.list.setFixedHeight(60)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.itemDoubleClicked.connect(lambda _i: self.rename_current())

        def tool(text: str, tip: str, slot: object) -> QToolButton:
            b = QToolButton(text=text, toolTip=tip, autoRaise=True)
            b.clicked.connect(slot)
            return b

        self.add_button = tool("+ Add", "New class… (Ctrl+Shift+N)", self.add_class_interactive)
        self.rename_button = tool("Rename", "Rename the selected class (its text prompt)", self.rename_current)
        self.color_button = tool("Colour", "Change the colour", self.recolor_current)
        self.remove_button = tool("Remove", "Remove the class (its pixels become background)", self.remove_current)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for b in (self.add_button, self.rename_button, self.color_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        hint = QLabel("The class name is the text prompt the model sees. Keys 1–9 pick a class.")
        hint.setWordWrap(True)
        hint.setProperty("role", "hint")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)
        lay.addWidget(self.list)
        lay.addLayout(buttons)
        lay.addWidget(hint)

        document.classes_changed.connect(self.refresh)
        document.current_class_changed.connect(self._select_id)
        self.refresh()

    @property
    def hidden_classes(self) -> set[int]:
        return set(self._hidden)

    def on_visibility_changed(self, callback: object) -> None:
        """``callback(hidden: set[int])`` when a class is shown/hidden."""
        self._on_hidden = callback

    @Slot()
    def refresh(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        classes = self._doc.classes
        self._hidden &= {c.id for c in classes}
        for i, c in enumerate(classes):
            key = f"{i + 1}  " if i < 9 else "    "
            item = QListWidgetItem(_swatch(c.color), f"{key}{c.name}")
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if c.id in self._hidden else Qt.CheckState.Checked)
            item.setToolTip(f"id {c.id} · {c.color} · untick to hide on the canvas")
            self.list.addItem(item)
        self.list.blockSignals(False)
        row = self.list.sizeHintForRow(0) if classes else 22
        self.list.setFixedHeight(max(60, min(200, row * len(classes) + 8)))
        self._select_id(self._doc.current_class)
        has = bool(classes)
        editable = self._doc.project is not None and not self._doc.project.read_only
        self.add_button.setEnabled(editable)
        for b in (self.rename_button, self.color_button, self.remove_button):
            b.setEnabled(has and editable)

    @Slot(int)
    def _select_id(self, class_id: int) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == class_id:
                self.list.blockSignals(True)
                self.list.setCurrentItem(item)
                self.list.blockSignals(False)
                return

    def _current_id(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current(self, current: QListWidgetItem | None, _prev: object) -> None:
        if current is not None:
            self._ops.set_current_class(int(current.data(Qt.ItemDataRole.UserRole)))

    @Slot(QListWidgetItem)
    def _on_item_changed(self, item: QListWidgetItem) -> None:
        cid = int(item.data(Qt.ItemDataRole.UserRole))
        if item.checkState() == Qt.CheckState.Checked:
            self._hidden.discard(cid)
        else:
            self._hidden.add(cid)
        if callable(self._on_hidden):
            self._on_hidden(set(self._hidden))

    # --- editing (small dialogs; they are separate windows, so window shortcuts stay out) ----------

    def add_class_interactive(self) -> None:
        if self._doc.project is None:
            return
        name, ok = QInputDialog.getText(self, "New class", "Class name (the model's text prompt):")
        if ok and name.strip():
            self._ops.add_class(name.strip())

    def rename_current(self) -> None:
        cid = self._current_id()
        if cid is None or self._doc.project is None:
            return
        old = self._doc.project.class_by_id(cid).name
        name, ok = QInputDialog.getText(self, "Rename class", "New name (used as the text prompt):", text=old)
        if ok and name.strip() and name.strip() != old:
            self._ops.rename_class(cid, name.strip())

    def recolor_current(self) -> None:
        cid = self._current_id()
        if cid is None or self._doc.project is None:
            return
        old = QColor(self._doc.project.class_by_id(cid).color)
        color = QColorDialog.getColor(old, self, "Class colour")
        if color.isValid():
            self._ops.recolor_class(cid, color.name())

    def remove_current(self) -> None:
        cid = self._current_id()
        if cid is None or self._doc.project is None:
            return
        name = self._doc.project.class_by_id(cid).name
        answer = QMessageBox.question(
            self, "Remove class",
            f"Remove the class “{name}”? Its pixels become background in every image "
            "(mask files are kept until overwritten).")
        if answer == QMessageBox.StandardButton.Yes:
            self._ops.remove_class(cid)
