""""Next suggested image" (an action target) and the image list's "Suggested next" sort.

The ranking (:mod:`symnet_core.workflows.next_image`) orders the images still waiting for a
human by how much a support there would help: lowest model confidence first (the measured
default, docs/gui.md; distance from the supports is available but did not help there).
It is computed off the GUI thread by
:class:`symnet_gui.services.suggestions.SuggestionService` whenever it is needed and may have
changed — a jump was asked for, the list is sorted by it and records changed (debounced), or
a propagation finished.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot

from symnet_gui.document.document import AnnotationDocument
from symnet_gui.services.suggestions import SuggestedOrder, SuggestionService
from symnet_gui.widgets.notifications import NotificationCenter

__all__ = ["SuggestionController"]

NOTHING_RANKED = "No suggestion yet: propagate first"
NOTHING_RANKED_HINT = ("The suggestion ranks the images a propagation predicted, least confident first "
                       "(rejected ones before all).")


class SuggestionController(QObject):
    """Keeps a ranking fresh while it is shown and jumps to its best image on request.

    Args:
        document: the open project's document.
        service: computes rankings (latest request wins).
        apply_ranks: receives ``{key: position}`` for the image list (``ImageFilterProxy.set_suggested_ranks``).
        is_shown: whether the list is sorted by suggestion now (then record changes refresh it).
        notes: where "nothing to suggest" and errors are said.
    """

    def __init__(self, document: AnnotationDocument, service: SuggestionService,
                 apply_ranks: Callable[[dict[str, int]], None], is_shown: Callable[[], bool],
                 notes: NotificationCenter, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._doc, self._service, self._notes = document, service, notes
        self._apply, self._shown = apply_ranks, is_shown
        self._jump = False
        self.order: SuggestedOrder | None = None
        self._timer = QTimer(self, singleShot=True, interval=400)
        self._timer.timeout.connect(self.refresh)
        service.ready.connect(self._on_ready)
        document.project_changed.connect(self._on_project)
        document.records_changed.connect(lambda _keys: self._records_changed())

    # --- action target -------------------------------------------------------------------------

    def next_suggested(self) -> bool:
        """Go to the best-ranked image other than the current one (once the ranking is ready)."""
        if self._doc.project is None:
            return False
        self._jump = True
        self.refresh()
        return True

    # --- refresh -------------------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        """Recompute the ranking now (asynchronously)."""
        self._timer.stop()
        if self._doc.project is not None:
            self._service.request(self._doc.project)

    def shown_changed(self) -> None:
        """Call when the list's sort mode changed: a newly shown ranking is computed at once."""
        if self._shown():
            self.refresh()

    def _records_changed(self) -> None:
        if self._shown():
            self._timer.start()

    def _on_project(self) -> None:
        self.order = None
        self._jump = False
        self._apply({})
        if self._shown():
            self.refresh()

    @Slot(object)
    def _on_ready(self, order: SuggestedOrder) -> None:
        self.order = order
        self._apply(order.rank_of())
        if order.error:
            self._notes.warning(f"Could not rank the images: {order.error}")
        if not self._jump:
            return
        self._jump = False
        key = order.next_after(self._doc.current_key)
        if key is None:
            self._notes.post("info", NOTHING_RANKED, NOTHING_RANKED_HINT, key="suggest-none",
                             holds=lambda: not (self.order and self.order.ranked))
        else:
            self._notes.resolve("suggest-none")
            self._doc.select(key)

    def shutdown(self) -> None:
        """Stop the ranking thread (before the project closes)."""
        self._service.shutdown()


def build_suggestions(document: AnnotationDocument, images: object, propagation_done: object,
                      notes: NotificationCenter, parent: QObject) -> SuggestionController:
    """The controller wired to the image panel (``images``: its ``proxy`` and ``sort_box``) and to
    ``propagation_done`` (a signal emitted when a propagation ends)."""
    panel = images
    controller = SuggestionController(
        document, SuggestionService(parent), panel.proxy.set_suggested_ranks,  # type: ignore[attr-defined]
        lambda: panel.sort_mode() == "suggested", notes, parent)  # type: ignore[attr-defined]
    panel.sort_box.currentIndexChanged.connect(lambda _i: controller.shown_changed())  # type: ignore[attr-defined]
    propagation_done.connect(lambda *_a: controller.refresh())  # type: ignore[attr-defined]
    return controller
