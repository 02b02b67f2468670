"""Logging and last-resort exception hooks for the desktop app (Qt-free; called from ``__main__``).

Log records go to stderr and to a rotating file in the user data folder
(:func:`symnet_gui.platform.paths.log_file`). Uncaught exceptions — on the GUI thread, in Qt slots or on
any other thread — are logged with their traceback and handed to ``on_error`` (the window shows
them as a non-modal message); the app keeps running.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from symnet_gui.platform.paths import log_file

__all__ = ["configure_logging", "install_excepthooks"]

_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"


def configure_logging(verbose: bool = False, path: Path | None = None) -> Path | None:
    """Set up the root logger; returns the log file path (None when it cannot be written)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.DEBUG if verbose else logging.WARNING)
    stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(stderr)
    path = path or log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning("no log file (%s): %s", path, exc)
        return None
    fh.setLevel(logging.DEBUG if verbose else logging.INFO)
    fh.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(fh)
    logging.getLogger(__name__).info("log file: %s", path)
    return path


def install_excepthooks(on_error: Callable[[str, str], None] | None = None) -> None:
    """Log uncaught exceptions of every thread and report them through ``on_error(message, details)``.

    ``on_error`` may be called from any thread; it must be thread-safe (e.g. emit a Qt signal).
    """
    log = logging.getLogger("symnet_gui.uncaught")

    def report(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None, where: str) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("uncaught exception %s:\n%s", where, details)
        if on_error is not None:
            try:
                on_error(f"Unexpected error: {exc_type.__name__}: {exc}", details)
            except Exception:  # the reporter itself must never raise from a hook
                log.exception("could not report the error")

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        report(exc_type, exc, tb, "on the main thread")

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            report(args.exc_type, args.exc_value, args.exc_traceback,
                   f"in thread {args.thread.name if args.thread else '?'}")

    sys.excepthook = hook
    threading.excepthook = thread_hook
