"""The uncertainty overlay: asks the inference service for the current image's probability
maps (latest request wins) and shows where the model is unsure (View ▸ Show uncertainty, U)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Slot

from symnet_gui.canvas.view import CanvasView
from symnet_gui.document.document import AnnotationDocument
from symnet_gui.imaging.overlays import uncertainty_rgba
from symnet_gui.services.inference_service import InferenceService, ModelState
from symnet_gui.services.inference_worker import support_fingerprint
from symnet_gui.services.types import PreviewResult, ServiceError
from symnet_gui.widgets.notifications import NotificationCenter

__all__ = ["UncertaintyController"]


class UncertaintyController(QObject):
    def __init__(self, document: AnnotationDocument, service: InferenceService, canvas: CanvasView,
                 notes: NotificationCenter, settings: Callable[[], tuple[float, bool]],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._doc, self._service, self._canvas, self._notes = document, service, canvas, notes
        self._settings = settings
        self.enabled = False
        self.pending: int | None = None
        document.image_changed.connect(self._on_image)
        service.preview_ready.connect(self._on_ready)
        service.preview_failed.connect(self._on_failed)
        service.model_loaded.connect(lambda _i: self.request())

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        self._canvas.uncertainty_item.setVisible(self.enabled)
        if self.enabled:
            self.request()
        else:
            self._service.cancel_preview()
            self.pending = None

    def request(self) -> int | None:
        project, key = self._doc.project, self._doc.current_key
        if not self.enabled or project is None or key is None or self._doc.current_error:
            return None
        if self._service.model_state != ModelState.READY and self._service.model_state != ModelState.LOADING:
            self._notes.info("The uncertainty overlay needs a model.", "Model ▸ Open checkpoint…")
            return None
        if not project.supports():
            self._notes.info("The uncertainty overlay needs at least one support.", "Paint an image and press S.")
            return None
        threshold, use_base = self._settings()
        self.pending = self._service.request_preview(project, key, support_fingerprint(project),
                                                     threshold=threshold, use_base_learner=use_base)
        return self.pending

    @Slot(str)
    def _on_image(self, _key: str) -> None:
        if self.enabled:
            self.request()

    @Slot(object)
    def _on_ready(self, result: PreviewResult) -> None:
        if result.key != self._doc.current_key:
            return
        self.pending = None
        rgba = uncertainty_rgba(list(result.probabilities.values()), result.threshold)
        self._canvas.uncertainty_item.set_map(rgba, result.full_size)
        self._canvas.uncertainty_item.setVisible(self.enabled)

    @Slot(int, object)
    def _on_failed(self, _rid: int, error: ServiceError) -> None:
        self.pending = None
        self._notes.warning(f"Uncertainty overlay: {error.message}", error.hint)
