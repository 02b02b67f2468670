"""``InferenceService``: the GUI thread's handle on the one inference worker thread.

Usage (GUI thread only)::

    service = InferenceService()                   # starts the worker QThread
    service.load_model(ModelSpec("model.pth"))     # latest request wins
    job = service.propagate(project, "unlabelled", threshold=0.5)
    service.cancel_propagation()                   # sets the job's Event directly
    job = service.adapt(project, class_id)         # one long job (propagation or adaptation) at a time
    service.cancel_adaptation()
    service.request_head_status(project, class_id) # latest wins -> head_status_ready(HeadInfo)
    service.remove_adapted_head(project, class_id) # Reset -> head_status_ready(HeadInfo(removed=...))
    rid = service.request_preview(project, key, support_key)   # latest wins, stale dropped
    service.shutdown()                             # cancel, quit, wait; no thread left behind

Signals are emitted on the GUI thread (the worker's signals arrive queued and are re-emitted
here after stale results are dropped). Nothing in this module imports torch.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, Signal, Slot

from symnet_gui.services.backend import CheckpointBackend, ModelBackend
from symnet_gui.services.inference_worker import InferenceWorker
from symnet_gui.services.mailbox import Mailbox
from symnet_gui.services.types import (
    AdaptOutcome,
    AdaptRequest,
    HeadInfo,
    HeadStatusRequest,
    ModelInfo,
    ModelSpec,
    PreviewRequest,
    PreviewResult,
    PropagationOutcome,
    PropagationRequest,
    ServiceError,
)

if TYPE_CHECKING:
    from symnet_core.project import Project

log = logging.getLogger(__name__)

__all__ = ["InferenceService", "ModelState"]


class ModelState:
    NONE = "none"
    LOADING = "loading"
    READY = "ready"
    ERROR = "error"


class InferenceService(QObject):
    """Owns the inference worker and its thread. Create and use on the GUI thread.

    Args:
        backend: how models are loaded; default :class:`CheckpointBackend` (real checkpoints).
    """

    model_state_changed = Signal(str)  # ModelState value
    model_loaded = Signal(object)  # ModelInfo
    model_failed = Signal(object)  # ServiceError
    propagation_started = Signal(int)
    propagation_progress = Signal(int, int, int, str)  # job id, done, total, key
    propagation_finished = Signal(object)  # PropagationOutcome
    propagation_failed = Signal(int, object)  # job id, ServiceError
    adaptation_started = Signal(int)
    adaptation_progress = Signal(int, int, int)  # job id, step, steps (0 = preparing)
    adaptation_finished = Signal(object)  # AdaptOutcome (cancelled ones too)
    adaptation_failed = Signal(int, object)  # job id, ServiceError
    long_job_changed = Signal(bool)  # a propagation or an adaptation started (True) / ended (False)
    head_status_ready = Signal(object)  # HeadInfo (only the latest request's)
    head_status_failed = Signal(int, object)  # request id, ServiceError
    preview_ready = Signal(object)  # PreviewResult (only the latest request's)
    preview_failed = Signal(int, object)
    demo_ready = Signal(str, str)
    demo_failed = Signal(object)
    busy_changed = Signal(bool)

    _sig_load = Signal()
    _sig_propagate = Signal(object)
    _sig_preview = Signal()
    _sig_demo = Signal(str, str)
    _sig_adapt = Signal(object)
    _sig_head = Signal()
    _sig_remove_head = Signal(object)

    def __init__(self, backend: ModelBackend | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model_box: Mailbox[tuple[int, ModelSpec]] = Mailbox()
        self._preview_box: Mailbox[PreviewRequest] = Mailbox()
        self._head_box: Mailbox[HeadStatusRequest] = Mailbox()
        self._thread = QThread()
        self._thread.setObjectName("symnet-inference")
        self._thread.created_at = "".join(traceback.format_stack(limit=6)[:-1])  # for leak reports in tests
        self._worker = InferenceWorker(backend or CheckpointBackend(), self._model_box, self._preview_box,
                                       self._head_box)
        self._worker.moveToThread(self._thread)
        self._thread.finished.connect(self._worker.release)  # direct: runs on the worker thread

        self._sig_load.connect(self._worker.load_model)
        self._sig_propagate.connect(self._worker.propagate)
        self._sig_preview.connect(self._worker.preview)
        self._sig_demo.connect(self._worker.prepare_demo)
        self._sig_adapt.connect(self._worker.adapt)
        self._sig_head.connect(self._worker.head_status)
        self._sig_remove_head.connect(self._worker.remove_head)

        w = self._worker
        w.model_loading.connect(self._on_model_loading)
        w.model_loaded.connect(self._on_model_loaded)
        w.job_failed.connect(self._on_job_failed)
        w.propagation_started.connect(self._on_propagation_started)
        w.propagation_progress.connect(self._on_propagation_progress)
        w.propagation_finished.connect(self._on_propagation_finished)
        w.adaptation_started.connect(self._on_adaptation_started)
        w.adaptation_progress.connect(self._on_adaptation_progress)
        w.adaptation_finished.connect(self._on_adaptation_finished)
        w.head_status_ready.connect(self._on_head_status_ready)
        w.preview_ready.connect(self._on_preview_ready)
        w.demo_ready.connect(self._on_demo_ready)
        w.busy_changed.connect(self._on_busy_changed)

        self._state = ModelState.NONE
        self._info: ModelInfo | None = None
        self._spec: ModelSpec | None = None
        self._job_seq = 0
        self._running: PropagationRequest | None = None
        self._adapting: AdaptRequest | None = None
        self._head_seq = 0
        self._preview_cancel: threading.Event | None = None
        self._busy = 0
        self._shut_down = False
        self._thread.start()

    # --- state -------------------------------------------------------------------------------

    @property
    def model_state(self) -> str:
        return self._state

    @property
    def model_info(self) -> ModelInfo | None:
        return self._info

    @property
    def model_spec(self) -> ModelSpec | None:
        return self._spec

    @property
    def propagation_running(self) -> bool:
        return self._running is not None

    @property
    def adaptation_running(self) -> bool:
        return self._adapting is not None

    @property
    def long_job_running(self) -> bool:
        """A propagation or an adaptation is running (they never run together)."""
        return self._running is not None or self._adapting is not None

    @property
    def is_running(self) -> bool:
        """Whether the worker thread is alive (False after :meth:`shutdown`)."""
        return self._thread.isRunning()

    # --- requests ----------------------------------------------------------------------------

    def load_model(self, spec: ModelSpec) -> None:
        """Load ``spec`` on the worker (a newer call replaces one still waiting)."""
        if self._shut_down:
            return
        self._spec = spec
        self._model_box.put((self._model_box.serial + 1, spec))
        self._set_state(ModelState.LOADING)
        self._sig_load.emit()

    def propagate(self, project: Project, scope: str, selected: tuple[str, ...] = (), *,
                  threshold: float | None = 0.5, use_base_learner: bool = True) -> int:
        """Start a run; returns its job id. Refused (``-1``) while a propagation or an adaptation is
        running, or when stopped."""
        if self._shut_down or self.long_job_running:
            return -1
        self._job_seq += 1
        req = PropagationRequest(self._job_seq, project, scope, tuple(selected), threshold, use_base_learner)
        self._running = req
        self._sig_propagate.emit(req)
        self.long_job_changed.emit(True)
        return req.job_id

    def cancel_propagation(self) -> bool:
        """Ask the running propagation to stop after the image in flight (GUI thread, immediate)."""
        if self._running is None:
            return False
        self._running.cancel.set()
        log.info("propagation job %d: cancel requested", self._running.job_id)
        return True

    def adapt(self, project: Project, class_id: int, *, threshold: float = 0.5, use_base_learner: bool = True,
              config: dict[str, object] | None = None) -> int:
        """Adapt the head to the supports of ``class_id`` and save it in the project; returns the job
        id. Refused (``-1``) while a propagation or an adaptation is running, or when stopped.

        ``config``: overrides of ``symnet_core.adaptation.head_tuning.AdaptConfig`` fields (``None`` = its
        defaults, which is what users get).
        """
        if self._shut_down or self.long_job_running:
            return -1
        self._job_seq += 1
        req = AdaptRequest(self._job_seq, project, int(class_id), threshold, use_base_learner,
                           tuple(sorted((config or {}).items())))
        self._adapting = req
        self._sig_adapt.emit(req)
        self.long_job_changed.emit(True)
        return req.job_id

    def cancel_adaptation(self) -> bool:
        """Ask the running adaptation to stop (the core checks every step; nothing is written)."""
        if self._adapting is None:
            return False
        self._adapting.cancel.set()
        log.info("adaptation job %d: cancel requested", self._adapting.job_id)
        return True

    def request_head_status(self, project: Project, class_id: int) -> int:
        """Ask what adapted head the project holds for ``class_id``; latest wins (``head_status_ready``)."""
        if self._shut_down:
            return -1
        self._head_seq += 1
        self._head_box.put(HeadStatusRequest(self._head_seq, project, int(class_id)))
        self._sig_head.emit()
        return self._head_seq

    def remove_adapted_head(self, project: Project, class_id: int) -> int:
        """Delete the class's adapted head (back to the checkpoint's); answered by ``head_status_ready``
        with ``removed`` set. Never dropped (runs after the job in progress)."""
        if self._shut_down:
            return -1
        self._head_seq += 1
        self._head_box.clear()  # a waiting status request would be out of date
        self._sig_remove_head.emit(HeadStatusRequest(self._head_seq, project, int(class_id), remove=True))
        return self._head_seq

    def request_preview(self, project: Project, key: str, support_key: str, *, threshold: float = 0.5,
                        use_base_learner: bool = True, max_side: int = 1024) -> int:
        """Ask for the probability maps of ``key``; returns the request id. Latest wins: a waiting
        request is replaced, a running one is cancelled, and only the newest result is emitted."""
        if self._shut_down:
            return -1
        if self._preview_cancel is not None:
            self._preview_cancel.set()
        rid = self._preview_box.serial + 1
        req = PreviewRequest(rid, project, key, support_key, threshold, use_base_learner, max_side)
        self._preview_cancel = req.cancel
        self._preview_box.put(req)
        self._sig_preview.emit()
        return rid

    def cancel_preview(self) -> None:
        if self._preview_cancel is not None:
            self._preview_cancel.set()
        self._preview_box.clear()

    def prepare_demo(self, out_dir: str, model_path: str) -> None:
        if not self._shut_down:
            self._sig_demo.emit(out_dir, model_path)

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        """Cancel everything, stop the thread and wait for it; returns True when it stopped.

        Safe to call twice. The worker frees the model on its own thread as it finishes.
        """
        if self._shut_down:
            return not self._thread.isRunning()
        self._shut_down = True
        self.cancel_propagation()
        self.cancel_adaptation()
        self.cancel_preview()
        self._model_box.clear()
        self._head_box.clear()
        self._thread.quit()
        deadline = time.monotonic() + timeout_s
        while self._thread.isRunning() and time.monotonic() < deadline:
            self._thread.wait(100)
        stopped = not self._thread.isRunning()
        if not stopped:
            log.error("the inference thread did not stop within %.0f s", timeout_s)
        return stopped

    # --- worker signals (GUI thread) ---------------------------------------------------------

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.model_state_changed.emit(state)

    @Slot(str)
    def _on_model_loading(self, _label: str) -> None:
        self._info = None
        self._set_state(ModelState.LOADING)

    @Slot(object)
    def _on_model_loaded(self, info: ModelInfo) -> None:
        self._info = info
        self._set_state(ModelState.READY)
        self.model_loaded.emit(info)

    @Slot(str, int, object)
    def _on_job_failed(self, kind: str, job_id: int, error: ServiceError) -> None:
        if kind == "model":
            if job_id != self._model_box.serial:
                return  # a newer load is under way
            self._info = None
            self._set_state(ModelState.ERROR)
            self.model_failed.emit(error)
        elif kind == "propagation":
            if self._running is not None and self._running.job_id == job_id:
                self._running = None
                self.long_job_changed.emit(False)
            self.propagation_failed.emit(job_id, error)
        elif kind == "adaptation":
            if self._adapting is not None and self._adapting.job_id == job_id:
                self._adapting = None
                self.long_job_changed.emit(False)
            self.adaptation_failed.emit(job_id, error)
        elif kind == "head":
            self.head_status_failed.emit(job_id, error)
        elif kind == "preview":
            if job_id == self._preview_box.serial:
                self.preview_failed.emit(job_id, error)
        else:
            self.demo_failed.emit(error)

    @Slot(int)
    def _on_propagation_started(self, job_id: int) -> None:
        self.propagation_started.emit(job_id)

    @Slot(int, int, int, str)
    def _on_propagation_progress(self, job_id: int, done: int, total: int, key: str) -> None:
        self.propagation_progress.emit(job_id, done, total, key)

    @Slot(object)
    def _on_propagation_finished(self, outcome: PropagationOutcome) -> None:
        ended = self._running is not None and self._running.job_id == outcome.job_id
        if ended:
            self._running = None
        self.propagation_finished.emit(outcome)
        if ended:
            self.long_job_changed.emit(False)

    @Slot(int)
    def _on_adaptation_started(self, job_id: int) -> None:
        self.adaptation_started.emit(job_id)

    @Slot(int, int, int)
    def _on_adaptation_progress(self, job_id: int, step: int, steps: int) -> None:
        self.adaptation_progress.emit(job_id, step, steps)

    @Slot(object)
    def _on_adaptation_finished(self, outcome: AdaptOutcome) -> None:
        ended = self._adapting is not None and self._adapting.job_id == outcome.job_id
        if ended:
            self._adapting = None
        self.adaptation_finished.emit(outcome)
        if ended:
            self.long_job_changed.emit(False)

    @Slot(object)
    def _on_head_status_ready(self, info: HeadInfo) -> None:
        if info.request_id != self._head_seq and not info.removed:
            log.debug("dropping stale head status %d", info.request_id)
            return
        self.head_status_ready.emit(info)

    @Slot(object)
    def _on_preview_ready(self, result: PreviewResult) -> None:
        if result.request_id != self._preview_box.serial:
            log.debug("dropping stale preview %d", result.request_id)
            return
        self.preview_ready.emit(result)

    @Slot(str, str)
    def _on_demo_ready(self, folder: str, model_path: str) -> None:
        self.demo_ready.emit(folder, model_path)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        before = self._busy > 0
        self._busy = max(0, self._busy + (1 if busy else -1))
        if (self._busy > 0) != before:
            self.busy_changed.emit(self._busy > 0)
