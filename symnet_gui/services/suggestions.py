""""Which image should I annotate next?" off the GUI thread.

:class:`SuggestionService` runs :func:`symnet_core.workflows.next_image.suggest_next` (numpy
only: it reads the project's embedding cache and records, ranks with k-center greedy + model
confidence) on a one-thread pool and hands the GUI a :class:`SuggestedOrder` — plain tuples of
image keys. Latest request wins: a result computed for an older request is dropped, so the
ranking the GUI holds always reflects the newest supports and statuses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

if TYPE_CHECKING:
    from symnet_core.project import Project

log = logging.getLogger(__name__)

__all__ = ["SuggestedOrder", "SuggestionService"]


@dataclass(frozen=True)
class SuggestedOrder:
    """The ranking as the GUI uses it.

    Attributes:
        ranked: candidate keys with a ranking (propagated), best first.
        unranked: candidate keys never propagated (no appearance vector), project order.
        supports_used: supports that acted as centers.
        error: why no ranking could be made ("" when fine).
    """

    ranked: tuple[str, ...] = ()
    unranked: tuple[str, ...] = ()
    supports_used: int = 0
    error: str = ""

    def rank_of(self) -> dict[str, int]:
        """``{key: position}`` for every candidate, ranked ones first."""
        return {k: i for i, k in enumerate(self.ranked + self.unranked)}

    def next_after(self, current: str | None) -> str | None:
        """The best-ranked key that is not ``current`` (``None`` when nothing is ranked)."""
        return next((k for k in self.ranked if k != current), None)


class _Relay(QObject):
    done = Signal(int, object)  # request id, SuggestedOrder


def _compute(project: Project) -> SuggestedOrder:
    from symnet_core.workflows.next_image import suggest_next

    try:
        s = suggest_next(project)
    except Exception as exc:  # a bug or a damaged project must not kill the pool thread
        log.exception("suggestion failed")
        return SuggestedOrder(error=f"{type(exc).__name__}: {exc}")
    return SuggestedOrder(s.ranked, s.unranked, s.supports_used)


class SuggestionService(QObject):
    """Latest-wins suggestion requests. Use from the GUI thread."""

    ready = Signal(object)  # SuggestedOrder of the latest request

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)
        self._latest = 0
        self._stopped = False
        self.last: SuggestedOrder | None = None

    def request(self, project: Project) -> int:
        """Rank ``project``'s candidates; :attr:`ready` follows (never synchronously)."""
        self._latest += 1
        rid, relay = self._latest, self._relay
        if not self._stopped:
            self._pool.start(lambda: relay.done.emit(rid, _compute(project)))
        return rid

    def shutdown(self) -> None:
        self._stopped = True
        self._pool.clear()
        self._pool.waitForDone()

    @Slot(int, object)
    def _on_done(self, rid: int, order: SuggestedOrder) -> None:
        if self._stopped or rid != self._latest:
            return
        self.last = order
        self.ready.emit(order)
