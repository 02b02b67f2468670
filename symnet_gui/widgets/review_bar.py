"""The strip above the canvas: which image, its status and confidence, and the review buttons."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

from symnet_gui.document.document import AnnotationDocument
from symnet_gui.platform.style import status_style

__all__ = ["ReviewBar"]

_BUTTONS = ("review.accept_next", "review.reject_next", "review.support", "review.prev", "review.next_unreviewed")


class ReviewBar(QWidget):
    def __init__(self, document: AnnotationDocument, actions: Mapping[str, QAction],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc = document
        self.setAutoFillBackground(True)
        self.setStyleSheet("ReviewBar { background: #2a2c30; border-bottom: 1px solid #1d1e21; }")
        self.status_label = QLabel()
        self.name_label = QLabel()
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.name_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.name_label.setMinimumWidth(80)
        self.conf_label = QLabel()
        self.conf_label.setProperty("role", "hint")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 3, 8, 3)
        lay.setSpacing(10)
        lay.addWidget(self.status_label)
        lay.addWidget(self.name_label, 1)
        lay.addWidget(self.conf_label)
        self.buttons: dict[str, QToolButton] = {}
        labels = {"review.accept_next": "✓ Accept", "review.reject_next": "✗ Reject", "review.support": "★ Support",
                  "review.prev": "◀", "review.next_unreviewed": "Next ▶"}
        for action_id in _BUTTONS:
            action = actions.get(action_id)
            if action is None:
                continue
            b = QToolButton(text=labels[action_id], toolTip=action.toolTip())
            b.clicked.connect(action.trigger)
            action.changed.connect(lambda b=b, a=action: b.setEnabled(a.isEnabled()))
            b.setEnabled(action.isEnabled())
            lay.addWidget(b)
            self.buttons[action_id] = b
        document.image_changed.connect(self.refresh)
        document.records_changed.connect(lambda _k: self.refresh())
        document.project_changed.connect(self.refresh)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        rec = self._doc.current_record
        key = self._doc.current_key
        if self._doc.project is None or rec is None or key is None:
            self.status_label.setText("")
            self.name_label.setText("No image")
            self.conf_label.setText("")
            return
        st = status_style(rec.status)
        self.status_label.setText(
            f"<span style='background:{st.color}; color:#16171a; border-radius:3px; padding:1px 6px;'>"
            f"&nbsp;{st.glyph} {st.label}&nbsp;</span>")
        self.status_label.setToolTip(st.help)
        keys = self._doc.keys
        pos = keys.index(key) + 1 if key in keys else 0
        size = f" · {rec.width}×{rec.height}" if rec.size else ""
        self.name_label.setText(f"<b>{PurePosixPath(key).name}</b>  <span style='color:#9a9ca3'>"
                                f"{pos} / {len(keys)}{size}</span>")
        self.name_label.setToolTip(key)
        self.conf_label.setText(f"confidence {rec.confidence:.2f}" if rec.confidence is not None else "")
        support = self.buttons.get("review.support")
        if support is not None:
            support.setText("☆ Unmark support" if rec.is_support else "★ Support")
