"""Create the ``QApplication`` and the window, show it at once, then start the slow things.

Order matters for the first impression: the window is shown before the folder is scanned and
long before the model loads (torch is imported on the inference thread, after the window is up).

``SYMNET_REPORT_SHOWN=FILE`` (benchmarks, ``bench/bench_gui.py``): the app writes a JSON object
``{"pid": ..., "shown": T}`` to ``FILE`` when the window is first exposed on screen and adds
``"first_image": T`` when the first image is on the canvas; ``T`` is ``time.time()``. The file is
replaced atomically, so a reader never sees half of it.

``SYMNET_EXIT_AFTER_MODEL_LOADED=1`` (the wheel smoke test in ``.ci/run``): the app quits through
its normal close path as soon as a model has loaded (exit status 0) or failed to load, or the demo
folder failed (exit status 1); the outcome is logged. Use it with ``--demo`` or ``--checkpoint``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from symnet_core.project.atomic import atomic_write_bytes
from symnet_gui.main_window import MainWindow
from symnet_gui.platform.logging_setup import install_excepthooks
from symnet_gui.platform.settings import AppSettings
from symnet_gui.platform.style import apply_theme

log = logging.getLogger(__name__)

__all__ = ["EXIT_AFTER_MODEL_ENV", "REPORT_SHOWN_ENV", "ErrorBridge", "ExitAfterModel", "ShownReporter",
           "create_app", "run_gui", "start_session"]

REPORT_SHOWN_ENV = "SYMNET_REPORT_SHOWN"
EXIT_AFTER_MODEL_ENV = "SYMNET_EXIT_AFTER_MODEL_LOADED"


class ErrorBridge(QObject):
    """Carries uncaught exceptions from any thread to the GUI thread (queued signal)."""

    error = Signal(str, str)


class ShownReporter(QObject):
    """Writes when ``window`` is first exposed and shows its first image (see the module docstring).

    Install after ``window.show()`` (the native window must exist). Never raises: a report that
    cannot be written is logged and dropped.
    """

    def __init__(self, window: MainWindow, path: str | os.PathLike[str]) -> None:
        super().__init__(window)
        self._path = Path(path)
        self._times: dict[str, float] = {}
        self._handle = window.windowHandle()
        if self._handle is not None:
            self._handle.installEventFilter(self)
        window.document.image_changed.connect(self._on_image)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Expose and obj is self._handle and self._handle.isExposed():
            self._handle.removeEventFilter(self)
            self._record("shown")
        return False

    def _on_image(self, _key: str) -> None:
        if "first_image" not in self._times:
            self._record("first_image")

    def _record(self, name: str) -> None:
        self._times[name] = time.time()
        try:
            atomic_write_bytes(self._path, json.dumps({"pid": os.getpid(), **self._times}).encode("utf-8"))
        except OSError as exc:
            log.warning("%s: cannot write %s: %s", REPORT_SHOWN_ENV, self._path, exc)


class ExitAfterModel(QObject):
    """Closes ``window`` once the model has loaded (exit status 0) or failed (1); see the module docstring."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.exit_code: int | None = None
        window.service.model_loaded.connect(lambda info: self._finish(0, f"model loaded: {info.description}"))
        window.service.model_failed.connect(lambda err: self._finish(1, f"model failed: {err.message}"))
        window.service.demo_failed.connect(lambda err: self._finish(1, f"demo failed: {err.message}"))

    def _finish(self, code: int, message: str) -> None:
        if self.exit_code is not None:
            return
        self.exit_code = code
        log.log(logging.INFO if code == 0 else logging.ERROR, "%s=1: %s; closing", EXIT_AFTER_MODEL_ENV, message)
        sys.stderr.write(f"symnet-annotate: {message}\n")  # the caller (a script) reads this line
        QTimer.singleShot(0, self._window.close)


def create_app(argv: list[str] | None = None, theme: str = "auto") -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        QApplication.setApplicationName("symnet-annotate")
        QApplication.setOrganizationName("symnet-annotate")
        app = QApplication(argv or sys.argv[:1])
    apply_theme(app, theme)
    return app


def start_session(window: MainWindow, args: argparse.Namespace) -> None:
    """What the command line asked for: a folder, the demo, a checkpoint."""
    if args.demo:
        window.start_demo()
    elif args.path:
        window.open_folder(args.path)
    else:
        offer_last_folder(window)
    checkpoint = args.checkpoint or (window.settings.last_checkpoint if not args.demo else "")
    if checkpoint:
        if Path(checkpoint).is_file():
            window.load_checkpoint(checkpoint)
        elif args.checkpoint:
            window.notes.error(f"Checkpoint not found: {checkpoint}", "Model ▸ Open checkpoint… to choose one.")


def offer_last_folder(window: MainWindow) -> bool:
    """Started without a folder: offer the most recent one that still exists (not opened by itself:
    it may be on a slow or unmounted drive, and the user may want another)."""
    for folder in window.settings.recent_folders:
        if Path(folder).is_dir():
            window.notes.post("info", f"Continue with {Path(folder).name}?", folder, "Open",
                              lambda f=folder: window.open_folder(f), key="last-folder",
                              holds=lambda: window.document.project is None)
            return True
    return False


def _close_on_signals(window: MainWindow) -> None:
    """Ctrl+C / SIGTERM close the window normally (cancel, save, stop threads) instead of killing it.

    Python runs signal handlers only between bytecodes; a cheap timer gives it that chance while
    Qt's event loop waits."""

    def handler(_signum: int, _frame: object) -> None:
        log.info("signal received: closing")
        QTimer.singleShot(0, window.close)

    for name in ("SIGINT", "SIGTERM"):
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, handler)
    tick = QTimer(window)
    tick.timeout.connect(lambda: None)
    tick.start(250)


def run_gui(args: argparse.Namespace) -> int:
    settings = AppSettings.load()
    app = create_app(theme=settings.theme)
    if args.device:
        settings.device = args.device
    window = MainWindow(settings)
    bridge = ErrorBridge(window)
    bridge.error.connect(lambda msg, _details: window.notes.error(msg, "Details are in the log (Help ▸ Open log "
                                                                       "folder). Your work is saved."))
    install_excepthooks(bridge.error.emit)
    _close_on_signals(window)
    window.show()
    report_to = os.environ.get(REPORT_SHOWN_ENV, "").strip()
    if report_to:
        ShownReporter(window, report_to)
    exit_after = ExitAfterModel(window) if os.environ.get(EXIT_AFTER_MODEL_ENV, "").strip() == "1" else None
    QTimer.singleShot(0, lambda: start_session(window, args))
    code = app.exec()
    if exit_after is not None and exit_after.exit_code:
        code = code or exit_after.exit_code
    log.info("exit %d", code)
    return code
