"""Cooperative cancellation shared by the predictor, propagation and the GUI worker."""

from __future__ import annotations

import threading
from typing import Protocol


class OperationCancelled(Exception):
    """Raised inside a long operation when its cancel token was set."""


class CancelLike(Protocol):
    def is_set(self) -> bool: ...


class CancelToken(threading.Event):
    """A :class:`threading.Event` that long operations poll; set it from any thread."""

    def raise_if_set(self) -> None:
        if self.is_set():
            raise OperationCancelled()


def check_cancel(cancel: CancelLike | None) -> None:
    """Raise :class:`OperationCancelled` when ``cancel`` is set (``None`` never cancels)."""
    if cancel is not None and cancel.is_set():
        raise OperationCancelled()
