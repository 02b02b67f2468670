"""Model menu → "Models…": the catalogue and the installed models, downloads with progress and cancel,
add from file, remove, and "Use for this project".

Reads the registry and the catalogue directly (torch-free JSON); every download, hash check and
checkpoint validation runs in :class:`symnet_gui.services.models_service.ModelsService` on its worker.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from symnet_core.weights import CATALOGUE, ModelEntry, RegistryError
from symnet_gui.services.models_service import ModelsService

__all__ = ["ModelsDialog"]

_FILTER = "Models (*.pth *.pt *.ckpt *.pkl);;All files (*)"


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} kB"


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.horizontalHeader().setStretchLastSection(True)
    t.verticalHeader().setVisible(False)
    return t


class ModelsDialog(QDialog):
    """``use_model(name)`` is emitted when the user picks an installed checkpoint for the project."""

    use_model = Signal(str)

    def __init__(self, service: ModelsService, current: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(820, 520)
        self.service = service
        self.current = current
        self.folder_label = QLabel()
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.installed = _table(["Name", "Size", "Trained on", "Details"])
        self.catalogue = _table(["Name", "Size", "Status", "What"])
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setVisible(False)
        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel download")
        self.add_button = QPushButton("Add from file…")
        self.remove_button = QPushButton("Remove")
        self.use_button = QPushButton("Use for this project")
        self.use_button.setDefault(True)
        close = QPushButton("Close")
        self.download_button.clicked.connect(self.download_selected)
        self.cancel_button.clicked.connect(self.service.cancel)
        self.add_button.clicked.connect(self._add_dialog)
        self.remove_button.clicked.connect(self.remove_selected)
        self.use_button.clicked.connect(self.use_selected)
        close.clicked.connect(self.close)
        self.installed.itemSelectionChanged.connect(self._update_buttons)
        self.catalogue.itemSelectionChanged.connect(self._update_buttons)

        lay = QVBoxLayout(self)
        lay.addWidget(self.folder_label)
        lay.addWidget(QLabel("<b>Installed</b>"))
        lay.addWidget(self.installed, 3)
        row = QHBoxLayout()
        for b in (self.use_button, self.add_button, self.remove_button):
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addWidget(QLabel("<b>Catalogue</b> (downloads are sha256-checked and loaded once before they are kept)"))
        lay.addWidget(self.catalogue, 2)
        row2 = QHBoxLayout()
        row2.addWidget(self.download_button)
        row2.addWidget(self.cancel_button)
        row2.addWidget(self.bar, 1)
        lay.addLayout(row2)
        lay.addWidget(self.status)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        lay.addLayout(bottom)

        service.progress.connect(self._on_progress)
        service.stage.connect(self.status.setText)
        service.installed.connect(self._on_installed)
        service.failed.connect(self._on_failed)
        service.cancelled.connect(self._on_cancelled)
        service.listed.connect(self._on_listed)
        self.refresh()

    # --- contents ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the registry and redraw both tables."""
        reg = self.service.manager.registry
        self.folder_label.setText(f"Models folder: {reg.directory}")
        try:
            entries = reg.entries()
        except RegistryError as exc:
            entries = []
            self.status.setText(str(exc))
        self.installed.setRowCount(len(entries))
        for i, e in enumerate(entries):
            name = e.name + ("  (this project)" if e.name == self.current else "")
            cells = [name, _size(e.size), e.trained_on(), e.summary() + f"\nsha256 {e.sha256}"
                     + ("" if e.sha256_pinned else " (recorded at first download)")]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, e.name)
                item.setToolTip(text)
                self.installed.setItem(i, j, item)
        sources = {e.source for e in entries}
        self.catalogue.setRowCount(len(CATALOGUE))
        for i, c in enumerate(CATALOGUE):
            status = "installed" if c.source in sources else ("pick a file" if c.kind == "folder" else "")
            cells = [c.name, _size(c.size), status, f"{c.title}\nLicense: {c.license}"]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, c.name)
                item.setToolTip(text)
                self.catalogue.setItem(i, j, item)
        self.installed.resizeRowsToContents()
        self.catalogue.resizeRowsToContents()
        self._update_buttons()

    def _selected(self, table: QTableWidget) -> str | None:
        rows = table.selectionModel().selectedRows()
        if not rows:
            return None
        item = table.item(rows[0].row(), 0)
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def select_installed(self, name: str) -> None:
        for i in range(self.installed.rowCount()):
            if self.installed.item(i, 0).data(Qt.ItemDataRole.UserRole) == name:
                self.installed.selectRow(i)

    def select_catalogue(self, name: str) -> None:
        for i in range(self.catalogue.rowCount()):
            if self.catalogue.item(i, 0).data(Qt.ItemDataRole.UserRole) == name:
                self.catalogue.selectRow(i)

    @Slot()
    def _update_buttons(self) -> None:
        busy = self.service.busy
        chosen = self._selected(self.installed)
        try:
            entry = self.service.manager.registry.get(chosen) if chosen else None
        except RegistryError:  # refresh() already shows the message
            entry = None
        self.use_button.setEnabled(entry is not None and entry.kind == "checkpoint" and not busy)
        self.remove_button.setEnabled(entry is not None and not busy)
        self.download_button.setEnabled(self._selected(self.catalogue) is not None and not busy)
        self.add_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    # --- actions -------------------------------------------------------------------------------------

    def _busy_ui(self, text: str) -> None:
        self.status.setText(text)
        self.bar.setVisible(True)
        self.bar.setRange(0, 0)
        self._update_buttons()

    def download_selected(self) -> None:
        name = self._selected(self.catalogue)
        if not name:
            return
        entry = next(c for c in CATALOGUE if c.name == name)
        started = self.service.list_folder(name) if entry.kind == "folder" else self.service.get(name)
        if started:
            self._busy_ui(f"Listing {name}…" if entry.kind == "folder" else f"Downloading {name}…")

    def add_file(self, path: str, name: str | None = None) -> bool:
        """Install a local file (what "Add from file…" does after its file dialog)."""
        if self.service.add(path, name=name):
            self._busy_ui(f"Checking {path}…")
            return True
        return False

    def _add_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a model file", "", _FILTER)
        if path:
            self.add_file(path)

    def remove_selected(self) -> None:
        name = self._selected(self.installed)
        if not name:
            return
        answer = QMessageBox.question(self, "Remove model", f"Delete {name} and its file from the models folder?")
        if answer == QMessageBox.StandardButton.Yes:
            self.remove(name)

    def remove(self, name: str) -> None:
        try:
            self.service.manager.remove(name)
        except (RegistryError, OSError) as exc:
            self.status.setText(str(exc))
        self.refresh()

    def use_selected(self) -> None:
        name = self._selected(self.installed)
        if name:
            self.current = name
            self.use_model.emit(name)
            self.refresh()
            self.status.setText(f"{name} is this project's model.")

    # --- service answers -------------------------------------------------------------------------------

    @Slot(object)
    def _on_progress(self, p) -> None:
        if p.total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * p.done / p.total))
        self.status.setText(p.describe())

    @Slot(object)
    def _on_installed(self, entry: ModelEntry) -> None:
        self.bar.setVisible(False)
        self.refresh()
        self.select_installed(entry.name)
        hash_note = "" if entry.sha256_pinned else " (no published hash: recorded now)"
        self.status.setText(f"Installed {entry.name}: {entry.summary()}. sha256 {entry.sha256}{hash_note}")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.bar.setVisible(False)
        self.status.setText(f"Failed: {message}")
        self._update_buttons()

    @Slot()
    def _on_cancelled(self) -> None:
        self.bar.setVisible(False)
        self.status.setText("Cancelled: nothing was kept.")
        self._update_buttons()

    @Slot(str, object)
    def _on_listed(self, name: str, files: list) -> None:
        self.bar.setVisible(False)
        self._update_buttons()
        paths = [path for _fid, path in files if path.lower().endswith((".pth", ".pt", ".ckpt", ".tar"))]
        if not paths:
            self.status.setText(f"{name}: no checkpoint files listed")
            return
        path, ok = QInputDialog.getItem(self, name, "Checkpoint to download:", paths, 0, False)
        if ok and path and self.service.get(name, file=path, files=files):
            self._busy_ui(f"Downloading {path}…")
