"""Brush size and overlay opacity controls for the toolbar (kept in sync with the canvas)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QSpinBox, QWidget

from symnet_gui.canvas.view import MAX_BRUSH, MIN_BRUSH, CanvasView

__all__ = ["BrushSizeControl", "OpacityControl"]


class BrushSizeControl(QWidget):
    def __init__(self, canvas: CanvasView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spin = QSpinBox(minimum=MIN_BRUSH, maximum=MAX_BRUSH, suffix=" px", value=canvas.brush_size)
        self.spin.setToolTip("Brush diameter in image pixels ( [ and ] )")
        self.spin.setKeyboardTracking(False)
        self.spin.valueChanged.connect(canvas.set_brush_size)
        canvas.brush_size_changed.connect(self._sync)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addWidget(QLabel("Size"))
        lay.addWidget(self.spin)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)

    def _sync(self, value: int) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)


class OpacityControl(QWidget):
    def __init__(self, canvas: CanvasView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
        self.slider.setFixedWidth(110)
        self.slider.setValue(round(canvas.overlay_opacity * 100))
        self.slider.setToolTip("Mask fill opacity; outlines stay visible ( , and . )")
        self.slider.valueChanged.connect(lambda v: canvas.set_overlay_opacity(v / 100))
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addWidget(QLabel("Opacity"))
        lay.addWidget(self.slider)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)

    def set_value(self, opacity: float) -> None:
        self.slider.setValue(round(opacity * 100))
