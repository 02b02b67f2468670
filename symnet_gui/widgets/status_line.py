"""The status bar: cursor position and class, zoom, save state, model and worker activity."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QStatusBar

from symnet_gui.canvas.view import CanvasView
from symnet_gui.document.document import AnnotationDocument
from symnet_gui.services.inference_service import InferenceService, ModelState

__all__ = ["StatusLine"]

_SAVE = {"saved": ("#80838b", "Saved"), "unsaved": ("#f0b429", "Unsaved edit"),
         "error": ("#f2545b", "NOT SAVED — see messages")}
_MODEL = {ModelState.NONE: "no model", ModelState.LOADING: "model loading…", ModelState.READY: "model ready",
          ModelState.ERROR: "model unavailable"}


class StatusLine:
    """Fills a ``QStatusBar`` with permanent labels bound to the canvas, document and service."""

    def __init__(self, bar: QStatusBar, canvas: CanvasView, document: AnnotationDocument,
                 service: InferenceService) -> None:
        self._doc = document
        self._service = service
        self.cursor = QLabel("")
        self.zoom = QLabel("")
        self.save = QLabel("")
        self.model = QLabel("")
        bar.addWidget(self.cursor, 1)
        for w in (self.zoom, self.save, self.model):
            bar.addPermanentWidget(w)
        canvas.cursor_moved.connect(self._on_cursor)
        canvas.zoom_changed.connect(self._on_zoom)
        document.save_state_changed.connect(self._on_save)
        service.model_state_changed.connect(self._on_model)
        service.busy_changed.connect(lambda _b: self._on_model(service.model_state))
        self._on_save(document.save_state)
        self._on_model(service.model_state)

    @Slot(int, int, int)
    def _on_cursor(self, x: int, y: int, class_id: int) -> None:
        if x < 0:
            self.cursor.setText("")
            return
        name = "background"
        if class_id and self._doc.project is not None:
            try:
                name = self._doc.project.class_by_id(class_id).name
            except KeyError:
                name = f"class {class_id}"
        self.cursor.setText(f"x {x}  y {y}  ·  {name}")

    @Slot(float)
    def _on_zoom(self, scale: float) -> None:
        self.zoom.setText(f"{scale * 100:.0f} %")

    @Slot(str)
    def _on_save(self, state: str) -> None:
        color, text = _SAVE.get(state, _SAVE["saved"])
        self.save.setText(f"<span style='color:{color}'>● {text}</span>")

    @Slot(str)
    def _on_model(self, state: str) -> None:
        info = self._service.model_info
        text = _MODEL.get(state, state)
        if state == ModelState.READY and info is not None:
            text = f"model ready · {info.device}"
        if self._service.propagation_running:
            text += " · propagating"
        elif self._service.adaptation_running:
            text += " · adapting"
        self.model.setText(text)
