"""Non-modal messages: a message bar under the canvas, plus a history the user can reopen.

Nothing in the app pops up a blocking error box: problems (a bad checkpoint, an unreadable
image, a failed save) become a toast with the message, what to do, and optionally an action
button. Every message is also logged.

Lifetime
    Info toasts fade after a few seconds; warnings and errors stay until closed **or until their
    condition ends**: a message posted with a ``key`` replaces the earlier one with that key, and
    :meth:`NotificationCenter.resolve` takes it down; a message posted with ``holds`` (a
    zero-argument predicate) is taken down by :meth:`NotificationCenter.recheck` as soon as the
    predicate turns false (the window rechecks when the project, its classes or records change).

Placement
    The :class:`ToastArea` is a widget in the window's layout below the canvas, not an overlay:
    the canvas shrinks while a message shows and is never covered. At most ``max_toasts``
    messages show at once; a "+N more" link opens the history.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, QTimer, Signal
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

from symnet_gui.platform.style import theme_color

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
    key: str = ""  # messages with the same key replace each other; resolve(key) takes them down


class NotificationCenter(QObject):
    """Collects messages from anywhere on the GUI thread and keeps a history."""

    posted = Signal(object)  # Notification
    resolved = Signal(str)  # key: the condition of that message ended

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.history: list[Notification] = []
        self._conditions: dict[str, Callable[[], bool]] = {}

    def post(self, level: str, message: str, hint: str = "", action_text: str = "",
             action: Callable[[], object] | None = None, *, key: str = "",
             holds: Callable[[], bool] | None = None) -> Notification:
        """Show a message. ``key``: replaces the shown message with that key. ``holds``: the
        message is true only while this returns True (needs a ``key``; checked by :meth:`recheck`)."""
        level = level if level in _COLORS else "info"
        n = Notification(level, message, hint, action_text, action, key=key)
        self.history = [*self.history[-199:], n]
        log.log(_LOG_LEVEL[level], "%s%s", message, f" — {hint}" if hint else "")
        if key and holds is not None:
            self._conditions[key] = holds
        self.posted.emit(n)
        return n

    def resolve(self, key: str) -> None:
        """The condition of the message ``key`` ended: take it down (no-op if none shows)."""
        self._conditions.pop(key, None)
        self.resolved.emit(key)

    def recheck(self) -> None:
        """Take down every message whose ``holds`` predicate is now false."""
        for key, holds in list(self._conditions.items()):
            try:
                still = bool(holds())
            except Exception:  # a predicate about a closed project: it ended
                log.debug("condition of %s failed", key, exc_info=True)
                still = False
            if not still:
                self.resolve(key)

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
            f"#toast {{ background: {theme_color('toast').name()}; border: 1px solid "
            f"{theme_color('toast_border').name()}; border-left: 4px solid {color};"
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
            # an offer (with a button) stays long enough to be taken up
            self._timer = QTimer(self, singleShot=True, interval=20000 if n.action else 6000)
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
    """The message bar: a column of toasts placed in the window layout (below the canvas).

    Newest last; at most :attr:`max_toasts` show, the rest are counted in a "+N more" link that
    opens the history (``more_requested``).
    """

    max_toasts = 2
    more_requested = Signal()

    def __init__(self, center: NotificationCenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(8, 4, 8, 4)
        self._lay.setSpacing(4)
        self._more = QPushButton()
        self._more.setFlat(True)
        self._more.setCursor(Qt.CursorShape.PointingHandCursor)
        self._more.clicked.connect(self.more_requested)
        self._lay.addWidget(self._more, 0, Qt.AlignmentFlag.AlignRight)
        self._toasts: list[_Toast] = []
        self._hidden_count = 0
        center.posted.connect(self.show_notification)
        center.resolved.connect(self.dismiss)
        self._update()

    @property
    def toasts(self) -> list[Notification]:
        return [t.notification for t in self._toasts]

    def show_notification(self, n: Notification) -> None:
        for t in list(self._toasts):
            if t.notification.message == n.message or (n.key and t.notification.key == n.key):
                self._remove(t)  # the same message (or a newer state of it): show it once, newest
        toast = _Toast(n, self)
        toast.closed.connect(self._remove)
        self._toasts.append(toast)
        self._lay.insertWidget(self._lay.count() - 1, toast)
        while len(self._toasts) > self.max_toasts:  # drop the oldest info first, then the oldest
            oldest = next((t for t in self._toasts if t.notification.level == "info"), self._toasts[0])
            if oldest.notification.level != "info":
                self._hidden_count += 1  # still in the history: the link counts it
            self._remove(oldest)
        self._update()

    def dismiss(self, key: str) -> None:
        for t in [t for t in self._toasts if key and t.notification.key == key]:
            self._remove(t)

    def _remove(self, toast: _Toast) -> None:
        if toast in self._toasts:
            self._toasts.remove(toast)
            self._lay.removeWidget(toast)
            toast.hide()
            toast.deleteLater()
        self._update()

    def clear(self) -> None:
        for t in list(self._toasts):
            self._remove(t)
        self._hidden_count = 0
        self._update()

    def reset_more(self) -> None:
        """The history was opened: the hidden messages count as seen."""
        self._hidden_count = 0
        self._update()

    def _update(self) -> None:
        self._more.setVisible(self._hidden_count > 0)
        self._more.setText(f"+{self._hidden_count} more — Messages…")
        self.setVisible(bool(self._toasts) or self._hidden_count > 0)


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
