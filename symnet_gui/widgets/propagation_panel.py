"""Propagation: scope, Propagate / Cancel, live progress with ETA, and the last run's summary.

Non-modal: the run happens on the inference worker; every finished image is written by the
store and refreshed here at once (its thumbnail, status and — when it is on the canvas — its
mask), so reviewing can start while the run goes on. One long job at a time: Propagate is
disabled while the model head is being adapted (:mod:`symnet_gui.widgets.adaptation_panel`).
Classes with an adapted head in the project get it automatically (the core applies it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from symnet_core.project import HUMAN_VERIFIED
from symnet_gui.document.document import AnnotationDocument
from symnet_gui.services.inference_service import InferenceService, ModelState
from symnet_gui.services.inference_worker import support_fingerprint
from symnet_gui.services.types import PropagationOutcome, ServiceError
from symnet_gui.widgets.notifications import NotificationCenter

__all__ = ["PropagationPanel", "format_eta"]

_SCOPES = (("unlabelled", "Unlabelled images", "Only images nobody has labelled or predicted yet"),
           ("all", "All not verified", "Unlabelled, predicted and rejected images (supports, accepted and "
                                       "edited images are never overwritten)"),
           ("selected", "Selected images", "The images selected in the image list"))


def format_eta(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class PropagationPanel(QWidget):
    """Starts and follows propagation runs. Action targets: :meth:`start`, :meth:`cancel`,
    :meth:`predict_current`."""

    run_finished = Signal(object)  # PropagationOutcome

    def __init__(self, document: AnnotationDocument, service: InferenceService, notes: NotificationCenter,
                 settings: Callable[[], tuple[float, bool]], selected: Callable[[], list[str]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc = document
        self._service = service
        self._notes = notes
        self._settings = settings
        self._selected = selected
        self._job = -1
        self._t0 = 0.0
        self._t_first = 0.0
        self._done0 = 0
        self._run_fingerprint: str | None = None

        self.supports_label = QLabel()
        self.supports_label.setWordWrap(True)
        self.scope_group = QButtonGroup(self)
        scope_box = QVBoxLayout()
        scope_box.setSpacing(2)
        for i, (value, text, tip) in enumerate(_SCOPES):
            rb = QRadioButton(text, toolTip=tip)
            rb.setProperty("scope", value)
            self.scope_group.addButton(rb, i)
            scope_box.addWidget(rb)
        self.scope_group.button(0).setChecked(True)
        self.start_button = QPushButton("Propagate")
        self.start_button.setProperty("primary", True)
        self.start_button.setToolTip("Predict masks for the chosen images (Ctrl+R)")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the image in flight; finished images are kept (Ctrl+.)")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress_label = QLabel("")
        self.progress_label.setProperty("role", "hint")
        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.summary_label.setProperty("role", "hint")
        self.hint_label = QLabel("")
        self.hint_label.setWordWrap(True)
        self.hint_label.setStyleSheet("color: #f0c45a;")
        self.hint_label.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(5)
        lay.addWidget(self.supports_label)
        lay.addLayout(scope_box)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.progress_label)
        lay.addWidget(self.summary_label)
        lay.addWidget(self.hint_label)
        lay.addStretch(1)

        self._refresh_timer = QTimer(self, singleShot=True, interval=200)
        self._refresh_timer.timeout.connect(self._refresh_supports)
        document.records_changed.connect(lambda _k: self._schedule_refresh())
        document.project_changed.connect(self._schedule_refresh)
        document.classes_changed.connect(self._schedule_refresh)
        service.propagation_started.connect(self._on_started)
        service.propagation_progress.connect(self._on_progress)
        service.propagation_finished.connect(self._on_finished)
        service.propagation_failed.connect(self._on_failed)
        service.long_job_changed.connect(lambda _b: self._set_running(self.running))
        self._refresh_supports()

    def _schedule_refresh(self) -> None:
        if not self._refresh_timer.isActive():  # throttle: progress events come faster than 200 ms
            self._refresh_timer.start()

    # --- actions -------------------------------------------------------------------------------------

    @property
    def scope(self) -> str:
        return str(self.scope_group.checkedButton().property("scope"))

    def set_scope(self, scope: str) -> None:
        for b in self.scope_group.buttons():
            if b.property("scope") == scope:
                b.setChecked(True)

    @property
    def running(self) -> bool:
        return self._job >= 0

    def start(self, scope: str | None = None, keys: list[str] | None = None) -> bool:
        """Start a run with the panel's scope (or the given one); returns whether it started."""
        doc, project = self._doc, self._doc.project
        if project is None:
            self._notes.info("Open a folder first.")
            return False
        if project.read_only:
            self._notes.warning("This project is open read-only; propagation would change it.")
            return False
        if self.running:
            self._notes.info("A propagation is already running.", "Cancel it first (Ctrl+.).")
            return False
        if self._service.adaptation_running:
            self._notes.info("The model head is being adapted.", "Propagate when it has finished, or cancel it "
                             "(Ctrl+.).")
            return False
        if self._service.model_state in (ModelState.NONE, ModelState.ERROR):
            self._notes.error("No model is loaded.", "Open a Sym-Net checkpoint to propagate.",
                              "Open checkpoint…", self._request_checkpoint)
            return False
        if not doc.save_now():
            return False
        if not project.supports():
            self._notes.post("warning", "No supports yet.",
                             "Paint the object on an image and press S to make it a support.", key="no-supports",
                             holds=lambda: doc.project is not None and not doc.project.supports())
            return False
        scope = scope or self.scope
        selected: list[str] = []
        if scope == "selected":
            selected = keys if keys is not None else self._selected()
            if not selected:
                self._notes.info("No images selected.", "Select images in the list (Ctrl/Shift-click).")
                return False
        threshold, use_base = self._settings()
        self._run_fingerprint = support_fingerprint(project)
        self._job = self._service.propagate(project, scope, tuple(selected), threshold=threshold,
                                            use_base_learner=use_base)
        if self._job < 0:
            return False
        self._t0 = time.monotonic()
        self._t_first = 0.0
        self._done0 = 0
        self.progress.setRange(0, 0)  # busy until the first image is done
        waiting = "Waiting for the model to load…" if self._service.model_state == ModelState.LOADING else \
            "Encoding the supports…"
        self.progress_label.setText(waiting)
        self.summary_label.setText("")
        self.hint_label.hide()
        self._set_running(True)
        return True

    def predict_current(self) -> bool:
        key = self._doc.current_key
        if key is None:
            return False
        rec = self._doc.record(key)
        if rec.status in HUMAN_VERIFIED:
            self._notes.info("This image is human-verified; propagation never overwrites it.",
                             "Reject it (R) or clear it first if you want a new prediction.")
            return False
        return self.start("selected", [key])

    def start_selected(self) -> bool:
        return self.start("selected")

    def cancel(self) -> bool:
        if not self._service.cancel_propagation():
            return False
        self.progress_label.setText("Cancelling after the image in flight…")
        self.cancel_button.setEnabled(False)
        return True

    def _request_checkpoint(self) -> None:
        window = self.window()
        opener = getattr(window, "open_checkpoint_dialog", None)
        if callable(opener):
            opener()

    # --- service signals ---------------------------------------------------------------------------

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running and not self._service.adaptation_running)
        self.cancel_button.setEnabled(running)
        for b in self.scope_group.buttons():
            b.setEnabled(not running)

    @Slot(int)
    def _on_started(self, job_id: int) -> None:
        if job_id == self._job:
            self._t0 = time.monotonic()
            self.progress_label.setText("Encoding the supports…")

    @Slot(int, int, int, str)
    def _on_progress(self, job_id: int, done: int, total: int, key: str) -> None:
        self._doc.refresh((key,))
        if job_id != self._job:
            return
        now = time.monotonic()
        if not self._t_first:
            self._t_first, self._done0 = now, done
        self.progress.setRange(0, max(1, total))
        self.progress.setFormat("%v / %m")
        self.progress.setValue(done)
        per = (now - self._t_first) / (done - self._done0) if done > self._done0 else (now - self._t0) / max(done, 1)
        eta = per * (total - done)
        text = f"{done} / {total} · {per:.2f} s/image · ETA {format_eta(eta)}"
        if self.cancel_button.isEnabled() or done == total:
            self.progress_label.setText(text)

    @Slot(object)
    def _on_finished(self, outcome: PropagationOutcome) -> None:
        if outcome.job_id != self._job:
            return
        self._job = -1
        self._set_running(False)
        self.progress.setRange(0, max(1, outcome.total))
        self.progress.setValue(outcome.total if not outcome.cancelled else self.progress.value())
        self.progress_label.setText("Cancelled — finished images are kept." if outcome.cancelled else "Done.")
        summary = outcome.summary
        if outcome.adapted_classes:
            names = {c.id: c.name for c in self._doc.classes}
            summary += " · adapted: " + ", ".join(names.get(c, str(c)) for c in outcome.adapted_classes)
        self.summary_label.setText(summary)
        self._doc.refresh(outcome.predicted)
        level = "info"
        hint = "Review: Enter accepts and moves on, R rejects, N jumps to the next prediction."
        if outcome.failed or outcome.unreadable:
            level = "warning"
            bad = [*outcome.failed, *outcome.unreadable][:3]
            hint = "; ".join(f"{k}: {v}" for k, v in bad) + (" …" if len(outcome.failed) + len(outcome.unreadable) > 3
                                                             else "")
        for w in outcome.warnings:
            self._notes.warning(w)
        self._notes.post(level, f"Propagation: {summary}", hint if outcome.predicted or level != "info" else "")
        self.run_finished.emit(outcome)
        self._refresh_supports()

    @Slot(int, object)
    def _on_failed(self, job_id: int, error: ServiceError) -> None:
        if job_id != self._job:
            return
        self._job = -1
        self._set_running(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress_label.setText("Stopped.")
        self._notes.error(f"Propagation stopped: {error.message}", error.hint)
        self._doc.refresh(())

    # --- supports summary ---------------------------------------------------------------------------------

    @Slot()
    def _refresh_supports(self) -> None:
        project = self._doc.project
        if project is None:
            self.supports_label.setText("No project open.")
            self.hint_label.hide()
            return
        sups = project.supports()
        if not sups:
            self.supports_label.setText("<b>Supports:</b> none yet — paint an image, then press <b>S</b>.")
        else:
            per_class = ", ".join(f"{c.name} {len(project.supports(c.id))}" for c in project.classes)
            self.supports_label.setText(f"<b>Supports:</b> {len(sups)} image(s) · {per_class}")
        stale = (self._run_fingerprint is not None and not self.running and sups
                 and support_fingerprint(project) != self._run_fingerprint)
        if stale:
            self.hint_label.setText("Supports changed since the last run — propagate again (scope “All not "
                                    "verified”) to update the predictions.")
        self.hint_label.setVisible(bool(stale))
