"""``MainWindow``: assembles the document, the inference service, the canvas and the panels.

It owns no annotation logic: editing lives in :mod:`symnet_gui.document.document` and the canvas tools,
review in :mod:`symnet_gui.document.review`, propagation in the propagation panel, inference in
:mod:`symnet_gui.services`. Commands and shortcuts come from :mod:`symnet_gui.actions.table`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QUrl, Slot
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import QApplication, QDockWidget, QFileDialog, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from symnet_core.assets import demo_model_path
from symnet_gui.actions.table import build_actions, build_menus
from symnet_gui.canvas.uncertainty import UncertaintyController
from symnet_gui.canvas.view import CanvasView
from symnet_gui.document.document import AnnotationDocument
from symnet_gui.document.next_suggested import build_suggestions
from symnet_gui.document.ops import ClassOps, MaskOps, StatusOps
from symnet_gui.document.review import ReviewController
from symnet_gui.platform.paths import config_dir, data_dir, log_file
from symnet_gui.platform.project_memory import ProjectMemory
from symnet_gui.platform.settings import AppSettings
from symnet_gui.platform.window_size import DEFAULT_SIZE, fit_first_show
from symnet_gui.services.demo import seed_demo_project
from symnet_gui.services.inference_service import InferenceService
from symnet_gui.services.models_service import ModelsService
from symnet_gui.services.types import ModelSpec, ServiceError
from symnet_gui.widgets.about import AppExtras
from symnet_gui.widgets.adaptation_panel import AdaptationPanel
from symnet_gui.widgets.class_panel import ClassPanel
from symnet_gui.widgets.export_dialog import ExportDialog
from symnet_gui.widgets.help_dialog import HelpDialog
from symnet_gui.widgets.image_panel import ImagePanel
from symnet_gui.widgets.model_panel import ModelPanel
from symnet_gui.widgets.models_dialog import ModelsDialog
from symnet_gui.widgets.notifications import MessagesDialog, NotificationCenter, ToastArea
from symnet_gui.widgets.panel_scroll import PanelScroll
from symnet_gui.widgets.propagation_panel import PropagationPanel
from symnet_gui.widgets.recent_menu import RecentMenu
from symnet_gui.widgets.review_bar import ReviewBar
from symnet_gui.widgets.status_line import StatusLine
from symnet_gui.widgets.tool_options import BrushSizeControl, OpacityControl
from symnet_gui.widgets.toolbar import build_toolbar, refresh_icons

log = logging.getLogger(__name__)

__all__ = ["MainWindow"]

_DOCK_WIDTH = 320
_CHECKPOINT_FILTER = "Checkpoints (*.pth *.pt *.ckpt *.safetensors);;All files (*)"


class MainWindow(QMainWindow):
    """The annotation window. ``service`` may be injected (tests use fake or tiny models)."""

    def __init__(self, settings: AppSettings | None = None, service: InferenceService | None = None,
                 models: ModelsService | None = None) -> None:
        super().__init__()
        self.setWindowTitle("symnet-annotate")
        self.settings = settings or AppSettings.load()
        self.notes = NotificationCenter(self)
        self.document = AnnotationDocument(self, autosave_delay_ms=self.settings.autosave_delay_ms)
        self.service = service or InferenceService(parent=self)
        self.canvas = CanvasView(self.document)
        self.canvas.set_brush_size(self.settings.brush_size)
        self.canvas.set_overlay_opacity(self.settings.overlay_opacity)
        self.status_ops = StatusOps(self.document)
        self.mask_ops = MaskOps(self.document)
        self.class_ops = ClassOps(self.document)
        self.images = ImagePanel(self.document, self.status_ops, self.settings.thumbnail_size)
        self.classes = ClassPanel(self.document, self.class_ops)
        self.adaptation = AdaptationPanel(self.document, self.service, self.notes, self.prediction_settings)
        self.model_panel = ModelPanel(self.service, self.adaptation)
        self.model_panel.set_values(0.5, True, self.settings.device)
        self.propagation = PropagationPanel(self.document, self.service, self.notes, self.prediction_settings,
                                            self.images.selected_keys)
        self.review = ReviewController(self.document, self.status_ops, self.images.all_keys_sorted, self.notes, self)
        self.uncertainty = UncertaintyController(self.document, self.service, self.canvas, self.notes,
                                                 self.prediction_settings, self)
        self.models_service = models or ModelsService(parent=self)
        self._models_dialog: ModelsDialog | None = None
        self._model_name: str | None = None  # registry name of the loaded model, when it came from there
        self._offer_models = True  # "No model for this folder yet" (off while the demo opens)
        self._export_dialog: ExportDialog | None = None
        self._help: HelpDialog | None = None
        self._messages: MessagesDialog | None = None
        self._closing = False
        self._sized = False

        self.extras = AppExtras(self.settings, lambda: getattr(self.service.model_spec, "label", ""), self._restyle,
                                self)
        self.suggest = build_suggestions(self.document, self.images, self.service.propagation_finished, self.notes,
                                         self)
        targets = {"window": self, "doc": self.document, "canvas": self.canvas, "review": self.review,
                   "images": self.images, "classes": self.classes, "propagation": self.propagation,
                   "adaptation": self.adaptation, "status": self.status_ops, "mask": self.mask_ops,
                   "class_ops": self.class_ops, "extras": self.extras, "suggest": self.suggest}
        self.commands = build_actions(self, targets, self.settings.shortcuts)
        build_menus(self.menuBar(), self.commands)
        self._build_layout()
        self._connect()
        self.memory = ProjectMemory(self.settings, self.document)
        self.memory.register("sort", self.images.sort_mode, self.images.set_sort_mode,
                             self.images.sort_box.currentIndexChanged)
        self.memory.register("scope", lambda: self.propagation.scope, self.propagation.set_scope,
                             self.propagation.scope_group.buttonToggled)
        self.memory.register("opacity", lambda: self.canvas.overlay_opacity, self.set_opacity)
        self.recent_menu = RecentMenu(self.settings, self.open_folder, self)
        file_menu = self.commands["file.open_read_only"].associatedObjects()[-1]
        file_menu.insertMenu(self.commands["file.demo"], self.recent_menu)  # type: ignore[union-attr]
        self.commands["view.overlay"].setChecked(self.settings.show_overlay)
        self.commands["view.light_theme"].setChecked(self.extras.light_now())
        self._update_enabled()
        self._restore_geometry()

    # --- assembly ------------------------------------------------------------------------------

    def _build_layout(self) -> None:
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.review_bar = ReviewBar(self.document, self.commands)
        lay.addWidget(self.review_bar)
        lay.addWidget(self.canvas, 1)
        self.toasts = ToastArea(self.notes, central)  # below the canvas: never covers it
        self.toasts.more_requested.connect(self.show_messages)
        lay.addWidget(self.toasts)
        self.setCentralWidget(central)

        self.opacity_control = OpacityControl(self.canvas)
        self.toolbar = build_toolbar(self.commands, {"size": BrushSizeControl(self.canvas),
                                                     "opacity": self.opacity_control}, self)
        self.addToolBar(self.toolbar)

        self._docks = [self._dock("Images", self.images, Qt.DockWidgetArea.LeftDockWidgetArea),
                       self._dock("Classes", self.classes, Qt.DockWidgetArea.RightDockWidgetArea),
                       self._dock("Model", self.model_panel, Qt.DockWidgetArea.RightDockWidgetArea),
                       self._dock("Propagation", self.propagation, Qt.DockWidgetArea.RightDockWidgetArea)]
        self.status_line = StatusLine(self.statusBar(), self.canvas, self.document, self.service)
        self.resize(DEFAULT_SIZE)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self, objectName=f"dock-{title.lower()}")
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable |
                         QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        if area == Qt.DockWidgetArea.RightDockWidgetArea:
            dock.setWidget(PanelScroll(widget))
        else:
            dock.setWidget(widget)
        dock.setMinimumWidth(_DOCK_WIDTH - (40 if area == Qt.DockWidgetArea.LeftDockWidgetArea else 20))
        self.addDockWidget(area, dock)
        return dock

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        if not self._sized:
            self._sized = True
            fit_first_show(self)  # maximized on a screen smaller than the default size
            self.resizeDocks(self._docks[:2], [_DOCK_WIDTH, _DOCK_WIDTH], Qt.Orientation.Horizontal)

    def _connect(self) -> None:
        doc = self.document
        doc.notify.connect(lambda level, msg, hint: self.notes.post(level, msg, hint))
        doc.project_changed.connect(self._on_project_changed)
        for signal in (doc.project_changed, doc.classes_changed, doc.records_changed):
            signal.connect(lambda *_a: self.notes.recheck())
        doc.image_changed.connect(lambda _k: self._update_enabled())
        self.canvas.tool_changed.connect(lambda name: self.commands[f"tool.{name}"].setChecked(True))
        self.images.grid_mode_changed.connect(self.commands["view.grid"].setChecked)
        self.images.propagate_selected_requested.connect(self.propagation.start_selected)
        self.classes.on_visibility_changed(self.canvas.set_hidden_classes)
        self.model_panel.open_checkpoint_requested.connect(self.show_models_dialog)
        self.model_panel.device_changed.connect(self._on_device_changed)
        self.model_panel.settings_changed.connect(self._store_prediction_settings)
        self.service.model_failed.connect(self._on_model_failed)
        self.service.model_loaded.connect(lambda info: [self.notes.warning(w) for w in info.warnings])
        self.service.demo_ready.connect(self._on_demo_ready)
        self.service.demo_failed.connect(lambda e: (self.notes.resolve("demo"), self.notes.error(e.message, e.hint)))
        self.service.long_job_changed.connect(lambda _running: self._update_enabled())
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._shutdown)

    def _update_enabled(self) -> None:
        has_project = self.document.project is not None
        editable = self.document.editable
        for action_id in ("edit.fill_holes", "edit.clear", "review.accept_next", "review.reject_next",
                          "review.support"):
            self.commands[action_id].setEnabled(editable)
        for action_id in ("file.export", "file.save", "edit.add_class"):
            self.commands[action_id].setEnabled(has_project)
        adapting = self.service.adaptation_running
        self.commands["model.propagate"].setEnabled(has_project and not adapting)
        self.commands["model.predict_current"].setEnabled(editable and not adapting)
        project = self.document.project
        writable = project is not None and not project.read_only
        for action_id in ("model.adapt", "model.reset_head"):
            self.commands[action_id].setEnabled(writable and not self.service.long_job_running)
        self.commands["model.cancel"].setEnabled(self.service.long_job_running)

    # --- opening ---------------------------------------------------------------------------------

    def open_folder(self, folder: str | os.PathLike[str], read_only: bool = False) -> bool:
        if not Path(folder).is_dir():
            self.notes.error(f"Not a folder: {folder}", "Choose the folder that holds your images.")
            return False
        if self.service.long_job_running:
            what = "An adaptation" if self.service.adaptation_running else "A propagation"
            self.notes.info(f"{what} is running.", "Cancel it (Ctrl+.) before opening another folder.")
            return False
        self.memory.remember()  # the project being left (opacity has no change signal)
        if not self.document.open(folder, read_only=read_only):
            return False
        if self.document.created_default_class:
            doc = self.document
            self.notes.post("info", "New project: one class named “object” was created.",
                            "Rename it to what you are labelling — the class name is the model's text prompt.",
                            key="default-class", holds=lambda: [c.name for c in doc.classes] == ["object"])
        self.settings.add_recent(str(Path(folder).resolve()))
        return True

    def open_folder_dialog(self, read_only: bool = False) -> None:
        start = self.settings.recent_folders[0] if self.settings.recent_folders else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", start)
        if folder:
            self.open_folder(folder, read_only)

    def open_read_only_dialog(self) -> None:
        self.open_folder_dialog(read_only=True)

    @Slot()
    def _on_project_changed(self) -> None:
        project = self.document.project
        title = "symnet-annotate"
        if project is not None:
            title = f"{project.images_root.name} — {title}" + (" (read-only)" if project.read_only else "")
            gui = project.settings.get("gui", {})
            if isinstance(gui, dict):
                self.model_panel.set_values(float(gui.get("threshold", 0.5)), bool(gui.get("use_base_learner", True)))
        self.setWindowTitle(title)
        self._export_dialog = None
        self._update_enabled()
        self._restore_project_model()

    def prediction_settings(self) -> tuple[float, bool]:
        """(threshold, use_base_learner) from the model panel."""
        return self.model_panel.threshold_value, self.model_panel.use_base_learner

    @Slot()
    def _store_prediction_settings(self) -> None:
        project = self.document.project
        if project is not None and not project.read_only:
            t, base = self.prediction_settings()
            project.update_settings(gui={"threshold": t, "use_base_learner": base})
        if self.uncertainty.enabled:
            self.uncertainty.request()

    # --- model ---------------------------------------------------------------------------------------

    def load_checkpoint(self, path: str | os.PathLike[str], label: str = "") -> None:
        path = str(path)
        self.service.load_model(ModelSpec(path, self.model_panel.device_box.currentText(), label or Path(path).name))
        self.settings.last_checkpoint = path

    def open_checkpoint_dialog(self) -> None:
        start = str(Path(self.settings.last_checkpoint).parent) if self.settings.last_checkpoint else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a Sym-Net checkpoint", start, _CHECKPOINT_FILTER)
        if path:
            self.load_checkpoint(path)
            self._model_name = None
            project = self.document.project
            if project is not None and not project.read_only and project.settings.get("model"):
                project.update_settings(model=None)  # a file chosen by hand replaces the remembered model

    @Slot(str)
    def _on_device_changed(self, device: str) -> None:
        self.settings.device = device
        spec = self.service.model_spec
        if spec is not None:
            self.service.load_model(ModelSpec(spec.checkpoint, device, spec.label))

    @Slot(object)
    def _on_model_failed(self, error: ServiceError) -> None:
        self.notes.error(error.message, error.hint, "Models…", self.show_models_dialog)

    # --- named models (symnet_core.weights registry; downloads run in ModelsService) -----------------

    def show_models_dialog(self) -> ModelsDialog:
        """Model → Models…: catalogue, installed models, downloads; "Use" sets this project's model."""
        if self._models_dialog is None:
            self._models_dialog = ModelsDialog(self.models_service, self._model_name, self)
            self._models_dialog.use_model.connect(self.use_named_model)
        self._models_dialog.refresh()
        self._models_dialog.show()
        self._models_dialog.raise_()
        return self._models_dialog

    def use_named_model(self, name: str, remember: bool = True) -> bool:
        """Load the installed model ``name``; with ``remember``, store it as the project's model (settings)."""
        from symnet_core.weights import RegistryError

        try:
            path = self.models_service.manager.path_of(name)
        except RegistryError as exc:
            self.notes.error(str(exc), "Open Models… to install or choose another one.", "Models…",
                             self.show_models_dialog)
            return False
        self.load_checkpoint(path, name)
        self._model_name = name
        project = self.document.project
        if remember and project is not None and not project.read_only:
            project.update_settings(model=name)
        self._suggest_meta_only()
        return True

    def _suggest_meta_only(self) -> None:
        """Tell the user when a project class is a base class of the loaded named model (its ensemble hides those)."""
        from symnet_core.weights import RegistryError
        from symnet_core.weights.folds import is_base_class

        project = self.document.project
        try:
            entry = self.models_service.manager.registry.get(self._model_name) if self._model_name else None
        except RegistryError as exc:
            self.notes.warning(str(exc))
            return
        if project is None or entry is None or not entry.base_classes or not self.model_panel.use_base_learner:
            return
        hits = [c.name for c in project.classes if is_base_class(c.name, entry.base_classes)]
        if hits:
            self.notes.info(f"{', '.join(hits)}: base class(es) of {entry.name} ({entry.trained_on()}).",
                            "Tick 'Meta-learner only': the full model treats its base classes as background.")

    def _restore_project_model(self) -> None:
        """Load the project's remembered model, or offer the Models dialog when there is none."""
        project = self.document.project
        if project is None:
            return
        name = project.settings.get("model")
        if isinstance(name, str) and name:
            if name != self._model_name or self.service.model_spec is None:
                self.use_named_model(name, remember=False)
            return
        if self.service.model_spec is None and self._offer_models:
            self.notes.post("info", "No model for this folder yet.",
                            "Choose, download or add one in Models… (it is remembered for this folder).",
                            "Models…", self.show_models_dialog)

    def start_demo(self) -> None:
        model = demo_model_path()
        self.notes.post("info", "Preparing the demo folder…", key="demo")
        self.service.prepare_demo(str(data_dir() / "demo"), str(model))

    @Slot(str, str)
    def _on_demo_ready(self, folder: str, model_path: str) -> None:
        self._offer_models = False  # the demo brings its own model (loaded below)
        self.notes.resolve("demo")
        try:
            self._open_demo(folder, model_path)
        finally:
            self._offer_models = True

    def _open_demo(self, folder: str, model_path: str) -> None:
        if not self.open_folder(folder):
            return
        if self.document.project is not None and seed_demo_project(self.document.project):
            self.document.open(folder)  # re-read classes and supports
            self.notes.info("Demo: the first images are painted supports.",
                            "Press Propagate (Ctrl+R), then review with Enter / R / N.")
        if model_path and Path(model_path).is_file():
            self.load_checkpoint(model_path, "demo model (synthetic scenes)")
        else:
            self.notes.error(f"The demo model is missing ({model_path}).",
                             "This installation has no trained demo model yet; install or choose one in Models….",
                             "Models…", self.show_models_dialog)

    # --- simple action handlers ------------------------------------------------------------------------

    def save_now(self) -> None:
        if self.document.save_now() and self.document.project is not None:
            try:
                self.document.project.save_if_dirty()
                self.notes.info("Saved.")
            except OSError as exc:
                self.notes.error(f"Could not save the project: {exc}", "Free disk space and try again.")

    def cancel_running_job(self) -> bool:
        """Ctrl+.: cancel the propagation or the adaptation that is running."""
        return self.propagation.cancel() or self.adaptation.cancel()

    def undo(self) -> None:
        self.document.undo_group.undo()

    def redo(self) -> None:
        self.document.undo_group.redo()

    def _restyle(self) -> None:
        refresh_icons(self.toolbar, self.commands)
        self.review_bar.restyle()
        self.images.view.viewport().update()

    def set_overlay_visible(self, visible: bool) -> None:
        self.canvas.set_overlay_visible(visible)
        self.settings.show_overlay = bool(visible)

    def change_opacity(self, direction: int) -> None:
        self.set_opacity(self.canvas.overlay_opacity + 0.1 * direction)

    def set_opacity(self, value: float) -> None:
        value = min(1.0, max(0.0, float(value)))
        self.canvas.set_overlay_opacity(value)
        self.opacity_control.set_value(value)

    def set_uncertainty_visible(self, visible: bool) -> None:
        self.uncertainty.set_enabled(visible)

    def show_export(self) -> None:
        if self.document.project is None:
            return
        if self._export_dialog is None:
            self._export_dialog = ExportDialog(self.document, self)
        self._export_dialog.refresh()
        self._export_dialog.show()
        self._export_dialog.raise_()

    @property
    def export_dialog(self) -> ExportDialog | None:
        """The export dialog, once :meth:`show_export` created it."""
        return self._export_dialog

    def show_help(self) -> None:
        if self._help is None:
            self._help = HelpDialog(self.commands, self)
        self._help.show()
        self._help.raise_()

    def show_messages(self) -> None:
        if self._messages is None:
            self._messages = MessagesDialog(self.notes, self)
        self.toasts.reset_more()
        self._messages.show()
        self._messages.raise_()

    def open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_file().parent)))

    # --- closing ---------------------------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        qs = QSettings(str(config_dir() / "window.ini"), QSettings.Format.IniFormat)
        geometry, state = qs.value("geometry"), qs.value("state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.service.long_job_running:
            self.service.cancel_propagation()
            self.service.cancel_adaptation()
            self.statusBar().showMessage("Stopping the running job…")
        if not self.document.save_now():
            answer = QMessageBox.warning(
                self, "Unsaved mask", "The current mask could not be saved (see Messages). Close anyway and lose "
                "this edit?", QMessageBox.StandardButton.Close | QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Close:
                event.ignore()
                return
        qs = QSettings(str(config_dir() / "window.ini"), QSettings.Format.IniFormat)
        qs.setValue("geometry", self.saveGeometry())
        qs.setValue("state", self.saveState())
        self.settings.brush_size = self.canvas.brush_size
        self.settings.overlay_opacity = round(self.canvas.overlay_opacity, 2)
        self.memory.remember()
        self.settings.save()
        self._shutdown()
        event.accept()

    @Slot()
    def _shutdown(self) -> None:
        """Stop every thread, then close the project (the worker may be writing to it until then)."""
        if self._closing:
            return
        self._closing = True
        self.models_service.cancel()
        self.models_service.wait()
        self.service.shutdown()
        if self._export_dialog is not None:
            self._export_dialog.shutdown()
        self.images.thumbs.shutdown()
        self.suggest.shutdown()
        if not self.document.shutdown():
            log.error("the project could not be closed cleanly; its journal keeps every change")
