"""Non-modal messages: toasts over the canvas, plus a history the user can reopen.

Nothing in the app pops up a blocking error box: problems (a bad checkpoint, an unreadable
image, a failed save) become a toast with the message, what to do, and optionally an action
button. Info toasts fade after a few seconds; warnings and errors stay until closed. Every
message is also logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

__all__ = ["MessagesDialog", "Notification", "NotificationCenter", "ToastArea"]

_COLORS = {"info": "#4f8ff7", "warning": "#f0b429", "error": "#f2545b"}
_LOG_LEVEL = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


@dataclass(frozen=True)
class Notification:
    level: str
    message: str
    hint: str = ""
    action_text: str = ""
    action: Callable[[], object] | None = field(default=None, compare=False)
    when: float = field(default_factory=time.time)


class NotificationCenter(QObject):
    """Collects messages from anywhere on the GUI thread and keeps a history."""

    posted = Signal(object)  # Notification

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.history: list[Notification] = []

    def post(self, level: str, message: str, hint: str = "", action_text: str = "",
             action: Callable[[], object] | None = None) -> Notification:
        level = level if level in _COLORS else "info"
        n = Notification(level, message, hint, action_text, action)
        self.history = [*self.history[-199:], n]
        log.log(_LOG_LEVEL[level], "%s%s", message, f" — {hint}" if hint else "")
        self.posted.emit(n)
        return n

    def info(self, message: str, hint: str = "") -> Notification:
        return self.post("info", message, hint)

    def warning(self, message: str, hint: str = "") -> Notification:
        return self.post("warning", message, hint)

    def error(self, message: str, hint: str = "", action_text: str = "",
              action: Callable[[], object] | None = None) -> Notification:
        return self.post("error", message, hint, action_text, action)


class _Toast(QFrame):
    closed = Signal(object)

    def __init__(self, n: Notification, parent: QWidget) -> None:
        super().__init__(parent)
        self.notification = n
        self.setObjectName("toast")
        color = _COLORS[n.level]
        self.setStyleSheet(
            f"#toast {{ background: #34373d; border: 1px solid #474a52; border-left: 4px solid {color};"
            " border-radius: 5px; }"
            "#toast QLabel { background: transparent; }")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 8, 6, 8)
        text = QVBoxLayout()
        msg = QLabel(n.message)
        msg.setWordWrap(True)
        msg.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text.addWidget(msg)
        if n.hint:
            hint = QLabel(n.hint)
            hint.setWordWrap(True)
            hint.setProperty("role", "hint")
            text.addWidget(hint)
        lay.addLayout(text, 1)
        if n.action is not None and n.action_text:
            btn = QPushButton(n.action_text)
            btn.clicked.connect(self._run_action)
            lay.addWidget(btn, 0, Qt.AlignmentFlag.AlignVCenter)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(lambda: self.closed.emit(self))
        lay.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        if n.level == "info":
            self._timer = QTimer(self, singleShot=True, interval=6000)  # dies with the toast
            self._timer.timeout.connect(self._expire)
            self._timer.start()

    def _expire(self) -> None:
        self.closed.emit(self)

    def _run_action(self) -> None:
        try:
            if self.notification.action is not None:
                self.notification.action()
        finally:
            self.closed.emit(self)


class ToastArea(QWidget):
    """A transparent stack of toasts pinned to the bottom-right corner of ``host``."""

    max_toasts = 4

    def __init__(self, center: NotificationCenter, host: QWidget) -> None:
        super().__init__(host)
        self._host = host
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, False)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(6)
        self._lay.addStretch(1)
        self._toasts: list[_Toast] = []
        center.posted.connect(self.show_notification)
        host.installEventFilter(self)
        self.hide()

    @property
    def toasts(self) -> list[Notification]:
        return [t.notification for t in self._toasts]

    def show_notification(self, n: Notification) -> None:
        if any(t.notification.message == n.message for t in self._toasts):
            return  # the same problem is already on screen
        toast = _Toast(n, self)
        toast.closed.connect(self._remove)
        self._toasts.append(toast)
        self._lay.addWidget(toast)
        while len(self._toasts) > self.max_toasts:
            self._remove(self._toasts[0])
        self._reposition()
        self.show()
        self.raise_()

    def _remove(self, toast: _Toast) -> None:
        if toast in self._toasts:
            self._toasts.remove(toast)
            self._lay.removeWidget(toast)
            toast.deleteLater()
        if not self._toasts:
            self.hide()
        else:
            self._reposition()

    def clear(self) -> None:
        for t in list(self._toasts):
            self._remove(t)

    def _reposition(self) -> None:
        width = min(460, max(260, self._host.width() - 40))
        self.setFixedWidth(width)
        h = 0
        for toast in self._toasts:  # word-wrapped labels: ask each toast for its height at this width
            lay = toast.layout()
            th = lay.totalHeightForWidth(width) if lay.hasHeightForWidth() else lay.totalSizeHint().height()
            toast.setFixedSize(width, th)
            h += th + self._lay.spacing()
        self.setGeometry(self._host.width() - width - 16, max(8, self._host.height() - h - 16), width, h)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self._host and event.type() == QEvent.Type.Resize and self._toasts:
            self._reposition()
        return False


class MessagesDialog(QDialog):
    """Every message of this session, newest last (non-modal)."""

    def __init__(self, center: NotificationCenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Messages")
        self.resize(720, 420)
        lay = QVBoxLayout(self)
        self._text = QPlainTextEdit(readOnly=True)
        lay.addWidget(self._text)
        self._center = center
        center.posted.connect(lambda _n: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        lines = []
        for n in self._center.history:
            stamp = time.strftime("%H:%M:%S", time.localtime(n.when))
            lines.append(f"{stamp}  {n.level.upper():7s} {n.message}" + (f"\n{' ' * 18}{n.hint}" if n.hint else ""))
        self._text.setPlainText("\n".join(lines) or "No messages yet.")
