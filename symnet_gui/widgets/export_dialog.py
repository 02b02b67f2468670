"""Export dialog (non-modal): COCO JSON (RLE or polygons), PNG label masks, YOLO, Pascal VOC, labelme and CVAT,
then validation of the COCO file."""

from __future__ import annotations

import os

from PySide6.QtCore import Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from symnet_gui.document.document import AnnotationDocument
from symnet_gui.services.export_task import ExportRequest, ExportResult, ExportTask, default_export_dir

__all__ = ["ExportDialog"]


def _radio_pair(a: str, b: str, tip_a: str = "", tip_b: str = "") -> tuple[QButtonGroup, QRadioButton, QRadioButton]:
    group = QButtonGroup()
    ra, rb = QRadioButton(a, toolTip=tip_a), QRadioButton(b, toolTip=tip_b)
    group.addButton(ra)
    group.addButton(rb)
    ra.setChecked(True)
    return group, ra, rb


class ExportDialog(QDialog):
    """Choose formats and options, export on a worker thread, show the validation report."""

    def __init__(self, document: AnnotationDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export annotations")
        self.setModal(False)
        self.resize(620, 520)
        self._doc = document
        self.task = ExportTask(self)
        self.task.progress.connect(self._on_progress)
        self.task.finished.connect(self._on_finished)
        self.last_result: ExportResult | None = None

        self.out_edit = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)

        self.coco_check = QCheckBox("COCO instances JSON", checked=True)
        self.png_check = QCheckBox("PNG label masks (+ classes.json, labelmap.txt)")
        self.format_checks = {
            "yolo": QCheckBox("YOLO segmentation (images/, labels/, data.yaml)"),
            "voc": QCheckBox("Pascal VOC (SegmentationClass/Object palette PNGs)"),
            "labelme": QCheckBox("labelme JSON (one file per image)"),
            "cvat": QCheckBox("CVAT for images 1.1 XML"),
        }
        self._g1, self.rle_radio, self.poly_radio = _radio_pair(
            "Compressed RLE (exact, keeps holes — recommended)", "Polygons (for tools that cannot read RLE)",
            "pycocotools' compressed RLE: pixel-exact", "Pixel-edge polygons; objects with holes fall back to RLE")
        self._g2, self.comp_radio, self.class_radio = _radio_pair(
            "One annotation per connected object", "One annotation per class per image")
        self._g3, self.verified_radio, self.all_radio = _radio_pair(
            "Human-verified images only (supports, accepted, edited)",
            "Also unreviewed predictions",
            "What you painted or checked", "Adds every ‘predicted’ image; rejected ones are never exported")
        for w in (self.rle_radio, self.poly_radio):
            self.coco_check.toggled.connect(w.setEnabled)
        for check in (self.coco_check, *self.format_checks.values()):
            check.toggled.connect(self._sync_instance_options)

        form = QFormLayout()
        form.addRow("Folder", out_row)
        fmt = QVBoxLayout()
        fmt.addWidget(self.coco_check)
        fmt.addWidget(self.png_check)
        for check in self.format_checks.values():
            fmt.addWidget(check)
        form.addRow("Formats", fmt)
        seg = QVBoxLayout()
        seg.addWidget(self.rle_radio)
        seg.addWidget(self.poly_radio)
        form.addRow("Segmentation", seg)
        inst = QVBoxLayout()
        inst.addWidget(self.comp_radio)
        inst.addWidget(self.class_radio)
        form.addRow("Annotations", inst)
        which = QVBoxLayout()
        which.addWidget(self.verified_radio)
        which.addWidget(self.all_radio)
        form.addRow("Images", which)

        self.export_button = QPushButton("Export")
        self.export_button.setProperty("primary", True)
        self.export_button.clicked.connect(self.start_export)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.result_text = QPlainTextEdit(readOnly=True)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.result_text.setFont(mono)
        self.result_text.setPlaceholderText("The export summary and the validation report appear here.")
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status_label, 1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(close)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.progress)
        lay.addWidget(self.result_text, 1)
        lay.addLayout(buttons)
        self.refresh()

    @Slot()
    def _sync_instance_options(self) -> None:
        """The per-object / per-class choice applies to COCO, Pascal VOC, labelme and CVAT (YOLO: per object)."""
        on = self.coco_check.isChecked() or any(c.isChecked() for c in self.format_checks.values())
        self.comp_radio.setEnabled(on)
        self.class_radio.setEnabled(on)

    def refresh(self) -> None:
        project = self._doc.project
        if project is not None and not self.out_edit.text():
            self.out_edit.setText(default_export_dir(project.images_root))
        self.export_button.setEnabled(project is not None and not self.task.running)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)

    @Slot()
    def start_export(self) -> bool:
        project = self._doc.project
        if project is None or self.task.running:
            return False
        if not self._doc.save_now():
            self.status_label.setText("The current mask could not be saved; fix that first.")
            return False
        out = self.out_edit.text().strip()
        if not out:
            self.status_label.setText("Choose an output folder.")
            return False
        root = os.path.realpath(project.images_root)
        if os.path.realpath(out) == root or os.path.realpath(out).startswith(root + os.sep):
            self.status_label.setText("Choose a folder outside the images folder (exported PNGs would be "
                                      "listed as images next time).")
            return False
        formats = tuple(name for name, check in self.format_checks.items() if check.isChecked())
        if not (self.coco_check.isChecked() or self.png_check.isChecked() or formats):
            self.status_label.setText("Choose at least one format.")
            return False
        req = ExportRequest(project, out, coco=self.coco_check.isChecked(), png=self.png_check.isChecked(),
                            polygons=self.poly_radio.isChecked(), per_component=self.comp_radio.isChecked(),
                            which="all" if self.all_radio.isChecked() else "verified", formats=formats)
        self.task.start(req)
        self.export_button.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.status_label.setText("Exporting…")
        self.result_text.clear()
        return True

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done + 1)

    @Slot(object)
    def _on_finished(self, result: ExportResult) -> None:
        self.last_result = result
        self.progress.setVisible(False)
        self.export_button.setEnabled(True)
        lines = []
        if result.ok:
            where = [p for p in (result.coco_path, result.png_dir, *result.format_dirs) if p]
            lines += [f"Written in {result.seconds:.1f} s:", *(f"  {p}" for p in where), "", result.summary]
            if result.validation:
                lines += ["", "Validation (pycocotools):", result.validation]
            ok = result.valid
            self.status_label.setText("✓ Exported and validated." if ok else "⚠ Exported, but validation found "
                                      "problems (see below).")
            self.status_label.setStyleSheet(f"color: {'#3ecf8e' if ok else '#f0b429'};")
        else:
            lines += [f"Export failed: {result.error}"]
            self.status_label.setText("✗ Export failed; nothing was overwritten.")
            self.status_label.setStyleSheet("color: #f2545b;")
        if result.warnings:
            lines += ["", "Warnings:", *(f"  {w}" for w in result.warnings[:20])]
        self.result_text.setPlainText("\n".join(lines))

    def shutdown(self) -> None:
        self.task.wait()
