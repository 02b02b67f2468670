"""The model panel: what is loaded, on which device, the prediction settings, and (given by the
window) the *Adapt to supports* section (:mod:`symnet_gui.widgets.adaptation_panel`)."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from symnet_gui.services.inference_service import InferenceService, ModelState
from symnet_gui.services.types import ModelInfo, ServiceError

__all__ = ["ModelPanel"]

_STATE_TEXT = {
    ModelState.NONE: ("#80838b", "No model loaded"),
    ModelState.LOADING: ("#f0b429", "Loading model…"),
    ModelState.READY: ("#3ecf8e", "Ready"),
    ModelState.ERROR: ("#f2545b", "Model not available"),
}
DEVICES = ("auto", "cpu", "cuda", "mps")


class ModelPanel(QWidget):
    """Shows the service's model state; edits threshold, meta-only and device. ``adaptation``: a
    widget shown below (the window passes its :class:`AdaptationPanel`)."""

    open_checkpoint_requested = Signal()
    device_changed = Signal(str)
    settings_changed = Signal()

    def __init__(self, service: InferenceService, adaptation: QWidget | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self.state_label = QLabel()
        self.state_label.setProperty("role", "heading")
        self.state_label.setWordWrap(True)  # "Loading <long model name>…" must not widen the panel past its dock
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setProperty("role", "hint")
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #f0c45a;")
        self.warning.hide()

        self.device_box = QComboBox()
        self.device_box.addItems(DEVICES)
        self.device_box.setToolTip("auto = the GPU when there is one, else the CPU")
        self.device_box.currentTextChanged.connect(self.device_changed.emit)
        self.threshold = QDoubleSpinBox(minimum=0.05, maximum=0.95, singleStep=0.05, decimals=2, value=0.5)
        self.threshold.setToolTip("Foreground probability above which a pixel is labelled (0.5 = the model's own "
                                  "decision). Lower finds more, higher is stricter.")
        self.threshold.valueChanged.connect(lambda _v: self.settings_changed.emit())
        self.meta_only = QCheckBox("Meta-learner only")
        self.meta_only.setToolTip("Use for classes the checkpoint was trained on (its base classes): the full "
                                  "model suppresses them as background by design.")
        self.meta_only.toggled.connect(lambda _v: self.settings_changed.emit())

        self.open_button = QPushButton("Open checkpoint…")
        self.open_button.clicked.connect(self.open_checkpoint_requested.emit)
        self.adaptation = adaptation

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Device", self.device_box)
        form.addRow("Threshold", self.threshold)
        form.addRow("", self.meta_only)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.open_button, 1)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(5)
        lay.addWidget(self.state_label)
        lay.addWidget(self.description)
        lay.addWidget(self.warning)
        lay.addLayout(form)
        lay.addLayout(buttons)
        if adaptation is not None:
            line = QFrame()
            line.setFrameShape(QFrame.Shape.HLine)
            line.setFrameShadow(QFrame.Shadow.Plain)
            line.setStyleSheet("color: rgba(255, 255, 255, 40);")
            lay.addSpacing(2)
            lay.addWidget(line)
            lay.addWidget(adaptation)

        service.model_state_changed.connect(self._on_state)
        service.model_loaded.connect(self._on_loaded)
        service.model_failed.connect(self._on_failed)
        self._on_state(service.model_state)

    # --- values ------------------------------------------------------------------------------------

    @property
    def threshold_value(self) -> float:
        return float(self.threshold.value())

    @property
    def use_base_learner(self) -> bool:
        return not self.meta_only.isChecked()

    def set_values(self, threshold: float, use_base_learner: bool, device: str | None = None) -> None:
        for w in (self.threshold, self.meta_only, self.device_box):
            w.blockSignals(True)
        self.threshold.setValue(threshold)
        self.meta_only.setChecked(not use_base_learner)
        if device:
            if self.device_box.findText(device) < 0:
                self.device_box.addItem(device)
            self.device_box.setCurrentText(device)
        for w in (self.threshold, self.meta_only, self.device_box):
            w.blockSignals(False)

    # --- service state -----------------------------------------------------------------------------

    @Slot(str)
    def _on_state(self, state: str) -> None:
        color, text = _STATE_TEXT.get(state, _STATE_TEXT[ModelState.NONE])
        info = self._service.model_info
        if state == ModelState.READY and info is not None:
            text = f"Ready · {info.device}"
        elif state == ModelState.LOADING and self._service.model_spec is not None:
            name = self._service.model_spec.label or self._service.model_spec.checkpoint
            text = f"Loading {name.rsplit('/', 1)[-1]}…"
        self.state_label.setText(f"<span style='color:{color}'>●</span> {text}")
        if state == ModelState.NONE:
            self.description.setText("Open a Sym-Net checkpoint to propagate masks. Painting and review work "
                                     "without one.")
        elif state == ModelState.LOADING:
            self.description.setText("The window stays usable while the model loads.")

    @Slot(object)
    def _on_loaded(self, info: ModelInfo) -> None:
        self._on_state(ModelState.READY)
        self.description.setText(f"{info.description}\nText: {info.text_encoder}")
        self.description.setToolTip(f"{info.model_id}\nloaded in {info.load_seconds:.1f} s")
        self.warning.setText("\n".join(info.warnings))
        self.warning.setVisible(bool(info.warnings))

    @Slot(object)
    def _on_failed(self, error: ServiceError) -> None:
        self.description.setText(error.message)
        self.warning.setText(error.hint)
        self.warning.setVisible(bool(error.hint))
