"""Adapt to supports: fine-tune the model head on the current class's supports (Model panel).

The run happens on the inference worker (``InferenceService.adapt`` →
``symnet_core.adaptation.class_heads.adapt_class``), which saves the head in the project
(``.symnet/adapted/class-<id>.pth``); propagation then uses it for that class automatically.
Non-modal: progress ``step i / N`` with Cancel (the core checks the token every step), and one
long job at a time — adapting is refused while a propagation runs, and the other way round.

Above the buttons the panel says which head the *current* class uses: ``yes (N supports)``,
``stale — supports changed since``, ``none``; **Reset** deletes the class's adapted head. An
adaptation whose head predicts the supports worse than before is *discarded* (not saved; the
class keeps the head it had) and the notification and the last-run line say so.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from symnet_gui.document.document import AnnotationDocument
from symnet_gui.services.inference_service import InferenceService, ModelState
from symnet_gui.services.types import AdaptOutcome, HeadInfo, ServiceError
from symnet_gui.widgets.notifications import NotificationCenter
from symnet_gui.widgets.propagation_panel import format_eta

log = logging.getLogger(__name__)

__all__ = ["AdaptationPanel", "describe_head"]

_GREY, _GREEN, _AMBER, _RED = "#80838b", "#3ecf8e", "#f0b429", "#f2545b"
_ADAPT_TIP = ("Fine-tune the model head on the supports of the current class (Ctrl+Shift+A). The head is saved "
              "in the project and used by the next propagation for this class; it is discarded when it predicts "
              "your supports worse than the checkpoint's own head.")


def describe_head(info: HeadInfo | None, model_id: str | None) -> tuple[str, str, str]:
    """``(colour, short text, tooltip)`` for the head a class uses; ``model_id`` = the loaded model."""
    if info is None:
        return _GREY, "checking…", ""
    if not info.exists:
        return _GREY, "none — the checkpoint's head is used", ""
    if info.error:
        return _RED, "unusable file — not used", info.error
    if model_id and info.base_model and info.base_model != model_id:
        return _AMBER, "made for another model — not used", f"adapted from {info.base_model}\n{info.summary}"
    n = f"{info.supports} support{'s' if info.supports != 1 else ''}"
    if info.stale:
        return _AMBER, f"stale — supports changed since (adapted on {n}; still used)", info.summary
    return _GREEN, f"yes ({n})", info.summary


class AdaptationPanel(QWidget):
    """Adapt / Cancel / Reset for the current class. Action targets: :meth:`start`, :meth:`cancel`,
    :meth:`reset`.

    ``config_overrides`` are passed to ``AdaptConfig`` on the worker (``{}`` = the core's
    defaults, what users get; tests use a few steps).
    """

    def __init__(self, document: AnnotationDocument, service: InferenceService, notes: NotificationCenter,
                 settings: Callable[[], tuple[float, bool]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc = document
        self._service = service
        self._notes = notes
        self._settings = settings
        self.config_overrides: dict[str, object] = {}
        self._job = -1
        self._cancelling = False
        self._t0 = 0.0
        self._t_first = 0.0
        self._head: HeadInfo | None = None
        self._status_key: object = None

        self.class_label = QLabel()
        self.class_label.setWordWrap(True)
        self.head_label = QLabel()
        self.head_label.setWordWrap(True)
        self.adapt_button = QPushButton("Adapt to supports…")
        self.adapt_button.setToolTip(_ADAPT_TIP)
        self.adapt_button.clicked.connect(self.start)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Delete this class's adapted head: propagation goes back to the checkpoint's head")
        self.reset_button.clicked.connect(self.reset)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the adaptation; nothing is changed (Ctrl+.)")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress_label = QLabel("")
        self.progress_label.setWordWrap(True)
        self.progress_label.setProperty("role", "hint")

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.adapt_button, 2)
        buttons.addWidget(self.reset_button, 1)
        running = QHBoxLayout()
        running.setContentsMargins(0, 0, 0, 0)
        running.addWidget(self.progress, 2)
        running.addWidget(self.cancel_button, 1)
        self._running_row = QWidget()
        self._running_row.setLayout(running)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(self.class_label)
        lay.addWidget(self.head_label)
        lay.addLayout(buttons)
        lay.addWidget(self._running_row)
        lay.addWidget(self.progress_label)
        self._running_row.hide()
        self.progress_label.hide()

        self._status_timer = QTimer(self, singleShot=True, interval=200)
        self._status_timer.timeout.connect(lambda: self.refresh_status(force=False))
        document.project_changed.connect(self._on_project_changed)
        document.classes_changed.connect(self._schedule_status)
        document.current_class_changed.connect(lambda _c: self.refresh_status(force=True))
        document.records_changed.connect(lambda _k: self._schedule_status())
        service.model_loaded.connect(lambda _i: self.refresh_status(force=True))
        service.model_state_changed.connect(lambda _s: self.refresh_status(force=False))
        service.long_job_changed.connect(lambda _b: self._update())
        service.adaptation_started.connect(self._on_started)
        service.adaptation_progress.connect(self._on_progress)
        service.adaptation_finished.connect(self._on_finished)
        service.adaptation_failed.connect(self._on_failed)
        service.head_status_ready.connect(self._on_head_status)
        service.head_status_failed.connect(self._on_head_status_failed)
        self.refresh_status(force=True)

    # --- state ---------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._job >= 0

    @property
    def head_info(self) -> HeadInfo | None:
        """The last known head status of the current class (``None`` while it is being checked)."""
        return self._head

    def _class(self) -> tuple[int, str] | None:
        cid = self._doc.current_class
        for c in self._doc.classes:
            if c.id == cid:
                return c.id, c.name
        return None

    def _can_adapt_model(self) -> bool:
        info = self._service.model_info
        return info is None or info.can_adapt

    def _update(self) -> None:
        project = self._doc.project
        cls = self._class() if project is not None else None
        busy = self._service.long_job_running
        writable = project is not None and not project.read_only
        self.adapt_button.setEnabled(writable and cls is not None and not busy and self._can_adapt_model())
        if busy and not self.running:
            self.adapt_button.setToolTip("A propagation is running; adapt when it has finished.")
        elif not self._can_adapt_model():
            self.adapt_button.setToolTip("The loaded model cannot be adapted (it is not a Sym-Net checkpoint).")
        else:
            self.adapt_button.setToolTip(_ADAPT_TIP)
        self.reset_button.setEnabled(writable and not busy and self._head is not None and self._head.exists)
        self.cancel_button.setEnabled(self.running and not self._cancelling)
        if project is None:
            self.class_label.setText("<b>Adapt to supports</b> — open a folder first.")
            self.head_label.setText("")
            return
        if cls is None:
            self.class_label.setText("<b>Adapt to supports</b> — select a class.")
            self.head_label.setText("")
            return
        self.class_label.setText(f"<b>Adapt to supports</b> · class “{html.escape(cls[1])}”")
        model = self._service.model_info
        if not self._model_known():
            self.head_label.setText(f"<span style='color:{_GREY}'>●</span> Adapted head: shown once a model is loaded")
            self.head_label.setToolTip("")
            return
        color, text, tip = describe_head(self._head, model.model_id if model is not None else None)
        self.head_label.setText(f"<span style='color:{color}'>●</span> Adapted head: {html.escape(text)}")
        self.head_label.setToolTip(tip)

    # --- head status -----------------------------------------------------------------------------------

    def _on_project_changed(self) -> None:
        self._head = None
        self._status_key = None
        self.progress_label.hide()
        self.refresh_status(force=True)

    def _schedule_status(self) -> None:
        if not self._status_timer.isActive():  # throttle: propagation refreshes records per image
            self._status_timer.start()

    def _model_known(self) -> bool:
        return self._service.model_state in (ModelState.READY, ModelState.LOADING)

    def refresh_status(self, force: bool = True) -> None:
        """Ask the worker what head the current class has (only when its supports changed, unless
        ``force``). Only with a model (loaded or loading): reading head files needs torch, which
        the app does not import before a model is asked for."""
        project = self._doc.project
        cls = self._class() if project is not None else None
        if project is None or cls is None or not self._model_known():
            self._head, self._status_key = None, None
            self._update()
            return
        sups = tuple(sorted((r.path, r.updated or "") for r in project.supports(cls[0])))
        key = (id(project), cls[0], sups)
        if force or key != self._status_key:
            if self._head is not None and self._head.class_id != cls[0]:
                self._head = None
            self._status_key = key
            self._service.request_head_status(project, cls[0])
        self._update()

    @Slot(object)
    def _on_head_status(self, info: HeadInfo) -> None:
        cls = self._class()
        if info.removed:
            name = self._name_of(info.class_id)
            self._notes.info(f"Adapted head of “{name}” removed: the checkpoint's head is used again.")
        if cls is not None and info.class_id == cls[0]:
            self._head = info
        self._update()

    @Slot(int, object)
    def _on_head_status_failed(self, _rid: int, error: ServiceError) -> None:
        self._notes.error(f"Adapted head: {error.message}", error.hint)
        self._update()

    def _name_of(self, class_id: int) -> str:
        return next((c.name for c in self._doc.classes if c.id == class_id), str(class_id))

    # --- actions ---------------------------------------------------------------------------------------

    def start(self) -> bool:
        """Adapt the current class on the worker; returns whether it started (else a message says why)."""
        doc, project = self._doc, self._doc.project
        if project is None:
            self._notes.info("Open a folder first.")
            return False
        if project.read_only:
            self._notes.warning("This project is open read-only; the adapted head could not be saved in it.")
            return False
        if self._service.long_job_running:
            what = "An adaptation" if self._service.adaptation_running else "A propagation"
            self._notes.info(f"{what} is already running.", "Wait for it or cancel it (Ctrl+.).")
            return False
        if self._service.model_state in (ModelState.NONE, ModelState.ERROR):
            self._notes.error("No model is loaded.", "Open a Sym-Net checkpoint to adapt it.",
                              "Open checkpoint…", self._request_checkpoint)
            return False
        if not self._can_adapt_model():
            self._notes.warning("The loaded model cannot be adapted.", "Adaptation needs a Sym-Net checkpoint.")
            return False
        cls = self._class()
        if cls is None:
            self._notes.info("Select a class first.")
            return False
        if not doc.save_now():  # the worker reads the supports from the project
            return False
        if not project.supports(cls[0]):
            cid = cls[0]
            self._notes.post("warning", f"Class “{cls[1]}” has no supports yet.",
                             "Paint the object on an image and press S to make it a support, then adapt.",
                             key=f"no-supports-{cid}",
                             holds=lambda: doc.project is not None and not doc.project.supports(cid))
            return False
        threshold, use_base = self._settings()
        self._job = self._service.adapt(project, cls[0], threshold=threshold, use_base_learner=use_base,
                                        config=dict(self.config_overrides) or None)
        if self._job < 0:
            return False
        self._cancelling = False
        self._t0 = time.monotonic()
        self._t_first = 0.0
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setToolTip("")
        self.progress.setFormat("Waiting for the model…" if self._service.model_state == ModelState.LOADING
                                else "Reading the supports…")
        self.progress_label.hide()
        self._running_row.show()
        self._update()
        return True

    def cancel(self) -> bool:
        if not self._service.cancel_adaptation():
            return False
        self._cancelling = True
        self.progress.setFormat("Cancelling…")
        self._update()
        return True

    def reset(self) -> bool:
        """Delete the current class's adapted head (on the worker, after any job in progress)."""
        project = self._doc.project
        cls = self._class() if project is not None else None
        if project is None or cls is None:
            return False
        if project.read_only:
            self._notes.warning("This project is open read-only; its adapted heads cannot be removed.")
            return False
        if self._service.long_job_running:
            self._notes.info("Wait for the running job to finish (or cancel it) before resetting the head.")
            return False
        if self._head is not None and not self._head.exists:
            self._notes.info(f"Class “{cls[1]}” has no adapted head.")
            return False
        self._head = None
        self._service.remove_adapted_head(project, cls[0])
        self._update()
        return True

    def _request_checkpoint(self) -> None:
        opener = getattr(self.window(), "open_checkpoint_dialog", None)
        if callable(opener):
            opener()

    # --- service signals ---------------------------------------------------------------------------

    @Slot(int)
    def _on_started(self, job_id: int) -> None:
        if job_id == self._job:
            self._t0 = time.monotonic()
            if not self._cancelling:
                self.progress.setFormat("Checking the supports…")
                self.progress.setToolTip("Predicting each support with the checkpoint's head (the baseline)")

    @Slot(int, int, int)
    def _on_progress(self, job_id: int, step: int, steps: int) -> None:
        if job_id != self._job or step <= 0:
            return
        now = time.monotonic()
        if not self._t_first:
            self._t_first = now
        self.progress.setRange(0, max(1, steps))
        self.progress.setValue(step)
        if self._cancelling:
            return
        if step >= steps:
            self.progress.setFormat("Checking the new head…")
            self.progress.setToolTip("Predicting each support with the adapted head: it is kept only if it does "
                                     "not do worse than the checkpoint's")
            return
        per = (now - self._t_first) / (step - 1) if step > 1 else now - self._t0
        self.progress.setFormat(f"step %v / %m · ETA {format_eta(per * (steps - step))}")
        self.progress.setToolTip(f"{per:.2f} s per step")

    def _end(self, text: str, tip: str = "") -> None:
        self._job = -1
        self._cancelling = False
        self._running_row.hide()
        self.progress_label.setText(text)
        self.progress_label.setToolTip(tip)
        self.progress_label.show()

    @Slot(object)
    def _on_finished(self, outcome: AdaptOutcome) -> None:
        if outcome.job_id != self._job:
            return
        name = outcome.class_name
        if outcome.cancelled:
            self._end("Cancelled — nothing was changed.")
            self._notes.info(f"Adaptation of “{name}” cancelled; nothing was changed.")
            self.refresh_status(force=True)
            return
        verdict = "kept" if outcome.kept else "discarded (worse on the supports)"
        self._end(f"Last run: {outcome.check} IoU {outcome.check_iou_before:.2f} → {outcome.check_iou_after:.2f}, "
                  f"{outcome.supports} support(s), {outcome.seconds:.0f} s — {verdict}", outcome.summary)
        if outcome.kept:
            self._notes.info(f"Adapted “{name}”: {outcome.summary}",
                             "Propagate again (scope “All not verified”) to use it on the predictions.")
        else:
            self._notes.warning(f"Adaptation of “{name}”: {outcome.summary}",
                                "The adapted head predicted your supports worse than the checkpoint's own head, so "
                                "it was not saved: this class keeps the head it had. More or more varied supports "
                                "may help.")
        self.refresh_status(force=True)

    @Slot(int, object)
    def _on_failed(self, job_id: int, error: ServiceError) -> None:
        if job_id != self._job:
            return
        self._end("Stopped — see Help ▸ Messages.", error.message)
        self._notes.error(f"Adaptation stopped: {error.message}", error.hint)
        self.refresh_status(force=True)
