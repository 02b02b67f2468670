"""The strip above the canvas: which image, its status and confidence, and the review buttons."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QAction, QFont, QFontMetrics
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

from symnet_gui.document.document import AnnotationDocument
from symnet_gui.platform.style import status_style, theme_color

__all__ = ["NameLabel", "ReviewBar"]

_BUTTONS = ("review.accept_next", "review.reject_next", "review.support", "review.prev", "review.next_unreviewed")


class NameLabel(QLabel):
    """File name (bold) and "position / count · size" that elide only when the room runs out.

    The name is elided in the middle (``demo_…_010.png``) after the detail has been dropped; the
    full key is in the tooltip. Its size hint asks for the whole text, so the layout gives it
    the room it has.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._name = ""
        self._detail = ""
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_parts(self, name: str, detail: str = "") -> None:
        self._name, self._detail = name, detail
        self.updateGeometry()
        self._relayout()

    def full_text(self) -> str:
        return f"{self._name}  {self._detail}".strip()

    def _bold_metrics(self) -> QFontMetrics:
        font = QFont(self.font())
        font.setBold(True)
        return QFontMetrics(font)

    def sizeHint(self) -> QSize:
        w = self._bold_metrics().horizontalAdvance(self._name) + self.fontMetrics().horizontalAdvance(
            "  " + self._detail) + 8
        return QSize(w, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(60, super().minimumSizeHint().height())

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._relayout()

    def _relayout(self) -> None:
        room = self.width() - 8
        bold = self._bold_metrics()
        detail = "  " + self._detail if self._detail else ""
        if bold.horizontalAdvance(self._name) + self.fontMetrics().horizontalAdvance(detail) > room:
            detail = ""  # the position goes first; the name is what the user reads
        name = bold.elidedText(self._name, Qt.TextElideMode.ElideMiddle,
                               max(20, room - self.fontMetrics().horizontalAdvance(detail)))
        dim = theme_color("dim_text").name()
        span = f"<span style='color:{dim}'>{detail}</span>" if detail else ""
        super().setText(f"<b>{name}</b>{span}".replace("  ", "&nbsp;&nbsp;"))


class ReviewBar(QWidget):
    def __init__(self, document: AnnotationDocument, actions: Mapping[str, QAction],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc = document
        self.setAutoFillBackground(True)
        self.restyle()
        self.status_label = QLabel()
        self.name_label = NameLabel()
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
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
        self._labels = labels
        self._compact = False
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

    def restyle(self) -> None:
        """Colours of the current theme (called again after a theme switch)."""
        self.setStyleSheet(f"ReviewBar {{ background: {theme_color('panel').name()}; "
                           f"border-bottom: 1px solid {theme_color('border').name()}; }}")
        if hasattr(self, "name_label"):
            self.refresh()

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fit()

    def _fit(self) -> None:
        """Narrow canvas: the buttons show only their glyphs (text on hover), so the name has room."""
        need = self.name_label.sizeHint().width() + self.status_label.sizeHint().width() + \
            self.conf_label.sizeHint().width() + 60
        compact = need + self._full_buttons_width() > self.width()
        if compact != self._compact:
            self._compact = compact
            self._label_buttons()

    def _full_buttons_width(self) -> int:
        fm = self.fontMetrics()
        return sum(fm.horizontalAdvance(self._button_text(a, False)) + 24 for a in self.buttons)

    def _button_text(self, action_id: str, compact: bool) -> str:
        text = self._labels[action_id]
        rec = self._doc.current_record
        if action_id == "review.support" and rec is not None and rec.is_support:
            text = "☆ Unmark support"
        if not compact:
            return text
        return "▶" if text.startswith("Next") else text.split(" ")[0]

    def _label_buttons(self) -> None:
        for action_id, b in self.buttons.items():
            b.setText(self._button_text(action_id, self._compact))

    @Slot()
    def refresh(self) -> None:
        rec = self._doc.current_record
        key = self._doc.current_key
        if self._doc.project is None or rec is None or key is None:
            self.status_label.setText("")
            self.name_label.set_parts("No image")
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
        self.name_label.set_parts(PurePosixPath(key).name, f"{pos} / {len(keys)}{size}")
        self.name_label.setToolTip(key)
        self.conf_label.setText(f"confidence {rec.confidence:.2f}" if rec.confidence is not None else "")
        self._label_buttons()
        self._fit()
