"""A one-slot, thread-safe "latest wins" box used between the service and its worker.

The GUI thread :meth:`put` s a request (replacing one still waiting) and then pokes the worker
with a queued signal; the worker :meth:`take` s whatever is newest when it gets to it. Twenty
quick requests therefore cost one job, not twenty.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["Mailbox"]


class Mailbox(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self._serial = 0

    def put(self, item: T) -> int:
        """Store ``item`` (dropping a waiting one); returns its serial number."""
        with self._lock:
            self._item = item
            self._serial += 1
            return self._serial

    def take(self) -> T | None:
        """The newest waiting item, or None when it was already taken."""
        with self._lock:
            item, self._item = self._item, None
            return item

    def clear(self) -> None:
        with self._lock:
            self._item = None

    @property
    def serial(self) -> int:
        """Serial of the newest ``put`` (a job compares it to its own to notice it is stale)."""
        with self._lock:
            return self._serial
