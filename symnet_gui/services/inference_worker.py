"""``InferenceWorker``: the QObject that lives on the inference thread and owns the model.

Threading contract (docs/adr/0002, docs/adr/0005-gui-architecture.md):

* Every slot here runs on the worker thread; they are invoked only through queued signals
  from :class:`~symnet_gui.services.inference_service.InferenceService`.
* torch, the predictor, checkpoints and ``symnet_core.workflows.propagation`` are imported lazily here,
  on this thread.
* Every job catches every exception, logs it with its traceback and reports a
  :class:`~symnet_gui.services.types.ServiceError` through :attr:`job_failed`.
* Cancellation: each job carries a ``threading.Event`` that the GUI thread sets directly; the
  loops check it between images and the predictor between stages.
* Adaptation (``adapt``) makes a fresh predictor from the loaded model and calls
  ``symnet_core.adaptation.class_heads.adapt_class`` (which saves the head in the project); the core
  polls the token every step. Propagation predictors come from a factory, so the core applies a
  class's adapted head (``_CancelAware`` forwards ``load_head``); previews do the same.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from symnet_gui.services.backend import LoadedModel, ModelBackend, ServiceFailure
from symnet_gui.services.mailbox import Mailbox
from symnet_gui.services.types import (
    AdaptOutcome,
    AdaptRequest,
    HeadInfo,
    HeadStatusRequest,
    ModelSpec,
    PreviewRequest,
    PreviewResult,
    PropagationOutcome,
    PropagationRequest,
    ServiceError,
)

log = logging.getLogger(__name__)

__all__ = ["InferenceWorker", "support_fingerprint"]


class _CancelAware:
    """Passes the job's cancel token to ``predict`` when the predictor accepts one, so a cancel
    also interrupts the image in flight (between the predictor's stages)."""

    def __init__(self, predictor: Any, cancel: Any) -> None:
        self._p = predictor
        self._cancel = cancel
        try:
            self._takes_cancel = "cancel" in inspect.signature(predictor.predict).parameters
        except (TypeError, ValueError):
            self._takes_cancel = False
        self.model_id = getattr(predictor, "model_id", None)

    def __getattr__(self, name: str) -> Any:
        # everything else (``load_head`` for adapted heads, ``adaptation``...) is the predictor's,
        # so propagation applies a class's adapted head through this wrapper too
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._p, name)

    def set_supports(self, images: Any, masks: Any, class_name: str) -> Any:
        return self._p.set_supports(images, masks, class_name)

    def predict(self, image: np.ndarray) -> Any:
        if self._takes_cancel:
            return self._p.predict(image, cancel=self._cancel)
        return self._p.predict(image)


def support_fingerprint(project: Any) -> str:
    """Identity of the support set: class ids and names, support paths and their ``updated``."""
    parts = []
    for c in project.classes:
        sups = sorted((r.path, r.updated or "") for r in project.supports(c.id))
        parts.append(f"{c.id}:{c.name}:{sups}")
    return hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()[:16]


def _error(kind: str, exc: BaseException) -> ServiceError:
    if isinstance(exc, ServiceFailure):
        return exc.error
    return ServiceError(kind, f"{type(exc).__name__}: {exc}", "Details are in the log file.",
                        "".join(traceback.format_exception(exc)))


class InferenceWorker(QObject):
    """Lives on the inference thread. Construct on the GUI thread, then ``moveToThread``."""

    model_loading = Signal(str)
    model_loaded = Signal(object)  # ModelInfo
    # kind ("model", "propagation", "adaptation", "head", "preview", "demo"), job id, ServiceError
    job_failed = Signal(str, int, object)
    propagation_started = Signal(int)
    propagation_progress = Signal(int, int, int, str)  # job id, done, total, key
    propagation_finished = Signal(object)  # PropagationOutcome
    adaptation_started = Signal(int)
    adaptation_progress = Signal(int, int, int)  # job id, step, steps (0 = preparing)
    adaptation_finished = Signal(object)  # AdaptOutcome (also when cancelled)
    head_status_ready = Signal(object)  # HeadInfo
    preview_ready = Signal(object)  # PreviewResult
    demo_ready = Signal(str, str)  # folder, model path ("" when absent)
    busy_changed = Signal(bool)

    def __init__(self, backend: ModelBackend, model_box: Mailbox[tuple[int, ModelSpec]],
                 preview_box: Mailbox[PreviewRequest], head_box: Mailbox[HeadStatusRequest] | None = None) -> None:
        super().__init__()
        self._backend = backend
        self._model_box = model_box
        self._preview_box = preview_box
        self._head_box: Mailbox[HeadStatusRequest] = head_box if head_box is not None else Mailbox()
        self._loaded: LoadedModel | None = None
        self._preview_cache: tuple[str, float, bool, dict[int, Any]] | None = None

    # --- model -----------------------------------------------------------------------------

    @Slot()
    def load_model(self) -> None:
        item = self._model_box.take()
        if item is None:  # a newer request already took it
            return
        serial, spec = item
        self.busy_changed.emit(True)
        try:
            self.model_loading.emit(spec.label or spec.checkpoint)
            self._loaded = None
            self._preview_cache = None
            loaded = self._backend.load(spec)
            if self._model_box.serial != serial:
                log.info("dropping stale model load of %s", spec.checkpoint)
                return
            self._loaded = loaded
            self.model_loaded.emit(loaded.info)
        except Exception as exc:
            log.exception("loading model %s failed", spec.checkpoint)
            self.job_failed.emit("model", serial, _error("model", exc))
        finally:
            self.busy_changed.emit(False)

    # --- propagation -----------------------------------------------------------------------

    @Slot(object)
    def propagate(self, req: PropagationRequest) -> None:
        self.busy_changed.emit(True)
        try:
            self._propagate(req)
        except Exception as exc:
            log.exception("propagation job %d failed", req.job_id)
            self.job_failed.emit("propagation", req.job_id, self._propagation_error(exc))
        finally:
            self.busy_changed.emit(False)

    def _propagation_error(self, exc: BaseException) -> ServiceError:
        from symnet_core.project import ProjectWriteError
        from symnet_core.workflows.propagation import PropagationError

        if isinstance(exc, PropagationError):
            hint = ("Paint the object on an image and press S to make it a support."
                    if "support" in str(exc) else "Check the model and the log file.")
            return ServiceError("propagation", str(exc), hint)
        if isinstance(exc, ProjectWriteError):
            return ServiceError("propagation", str(exc),
                                "Free disk space or fix permissions, then propagate again: finished images are kept "
                                "and the run resumes.")
        return _error("propagation", exc)

    def _propagate(self, req: PropagationRequest) -> None:
        from symnet_core.cancel import OperationCancelled
        from symnet_core.workflows.propagation import propagate_project

        if self._loaded is None:
            raise ServiceFailure(ServiceError("propagation", "No model is loaded.",
                                              "Use Model ▸ Open checkpoint… first."))
        loaded = self._loaded
        self.propagation_started.emit(req.job_id)
        threshold = 0.5 if req.threshold is None else req.threshold

        def factory() -> Any:
            return _CancelAware(loaded.make_predictor(threshold, req.use_base_learner), req.cancel)

        def progress(done: int, total: int, key: str) -> None:
            self.propagation_progress.emit(req.job_id, done, total, key)

        report = propagate_project(
            req.project, factory, scope=req.scope, selected=list(req.selected) or None,
            threshold=req.threshold, progress=progress, cancel=req.cancel, model_name=loaded.info.model_id)
        cancelled_names = {OperationCancelled.__name__}
        failed = tuple((k, v) for k, v in report.failed.items()
                       if not (report.cancelled and v.split(":")[0] in cancelled_names))
        self.propagation_finished.emit(PropagationOutcome(
            job_id=req.job_id, run_id=report.run_id, total=report.total, predicted=tuple(report.predicted),
            skipped_protected=len(report.skipped_protected), failed=failed,
            unreadable=tuple(report.unreadable.items()), warnings=tuple(report.warnings),
            cancelled=report.cancelled, elapsed_s=report.elapsed_s, summary=report.summary(),
            adapted_classes=tuple(getattr(report, "adapted_classes", ()))))

    # --- adaptation (fine-tune the head on one class's supports) --------------------------------

    @Slot(object)
    def adapt(self, req: AdaptRequest) -> None:
        from symnet_core.cancel import OperationCancelled

        self.busy_changed.emit(True)
        name = str(req.class_id)
        try:
            name = req.project.class_by_id(req.class_id).name
            self._adapt(req, name)
        except OperationCancelled:
            log.info("adaptation job %d (class '%s') cancelled; nothing written", req.job_id, name)
            self.adaptation_finished.emit(AdaptOutcome(req.job_id, req.class_id, name, cancelled=True,
                                                       summary="cancelled — nothing was changed"))
        except Exception as exc:
            log.exception("adaptation job %d (class '%s') failed", req.job_id, name)
            self.job_failed.emit("adaptation", req.job_id, self._adaptation_error(exc, name))
        finally:
            self._preview_cache = None  # previews use the class's (new) head from now on
            self.busy_changed.emit(False)

    def _adaptation_error(self, exc: BaseException, name: str) -> ServiceError:
        from symnet_core.project import ProjectWriteError

        if isinstance(exc, ProjectWriteError):
            return ServiceError("adaptation", f"Could not save the adapted head of '{name}': {exc}",
                                "The project is read-only or the disk is full or not writable; fix that and adapt "
                                "again.")
        if isinstance(exc, KeyError):
            return ServiceError("adaptation", f"The class no longer exists ({exc}).", "Pick a class and adapt again.")
        if isinstance(exc, (ValueError, RuntimeError)) and "support" in str(exc):
            return ServiceError("adaptation", f"Class '{name}' has no support with painted pixels.",
                                "Paint the object on an image and press S to make it a support, then adapt again.")
        return _error("adaptation", exc)

    def _adapt(self, req: AdaptRequest, name: str) -> None:
        from dataclasses import replace

        from symnet_core.adaptation.class_heads import adapt_class
        from symnet_core.adaptation.head_tuning import AdaptConfig
        from symnet_core.cancel import check_cancel

        if self._loaded is None:
            raise ServiceFailure(ServiceError("adaptation", "No model is loaded.",
                                              "Use Model ▸ Open checkpoint… first."))
        check_cancel(req.cancel)  # cancelled while it waited behind another job
        try:
            config = replace(AdaptConfig(), **dict(req.config))
        except (TypeError, ValueError) as exc:
            raise ServiceFailure(ServiceError("adaptation", f"Bad adaptation settings: {exc}",
                                              "Check the adaptation settings.")) from exc
        loaded = self._loaded
        self.adaptation_started.emit(req.job_id)
        self.adaptation_progress.emit(req.job_id, 0, config.steps)
        predictor = loaded.make_predictor(0.5 if req.threshold is None else req.threshold, req.use_base_learner)
        if not all(callable(getattr(predictor, m, None)) for m in ("adaptation_inputs", "reset_head", "head_state")):
            raise ServiceFailure(ServiceError("adaptation", "This model cannot be adapted.",
                                              "Adaptation needs a Sym-Net checkpoint (Model ▸ Open checkpoint…)."))

        def progress(step: int, steps: int) -> None:
            self.adaptation_progress.emit(req.job_id, step, steps)

        report = adapt_class(req.project, req.class_id, predictor, config, progress=progress, cancel=req.cancel)
        self.adaptation_finished.emit(AdaptOutcome(
            job_id=req.job_id, class_id=req.class_id, class_name=name, cancelled=False, kept=bool(report.kept),
            steps=int(report.steps), supports=int(report.supports), check=str(report.check),
            check_iou_before=float(report.check_iou_before),
            check_iou_after=float(report.check_iou_after), seconds=float(report.seconds),
            summary=report.describe()))

    # --- adapted heads: status and removal ------------------------------------------------------

    @Slot()
    def head_status(self) -> None:
        req = self._head_box.take()
        if req is not None:
            self._head_job(req)

    @Slot(object)
    def remove_head(self, req: HeadStatusRequest) -> None:
        self._head_job(req)

    def _head_job(self, req: HeadStatusRequest) -> None:
        try:
            self.head_status_ready.emit(self._head_info(req))
        except Exception as exc:
            log.exception("adapted head of class %d: %s failed", req.class_id, "removal" if req.remove else "status")
            self.job_failed.emit("head", req.request_id, _error("head", exc))

    def _head_info(self, req: HeadStatusRequest) -> HeadInfo:
        from symnet_core.adaptation.class_heads import head_status, remove_adapted_head

        removed = False
        if req.remove:
            removed = remove_adapted_head(req.project, req.class_id)
            self._preview_cache = None
            log.info("class %d: adapted head %s", req.class_id, "removed" if removed else "was not there")
        st = head_status(req.project, req.class_id)
        return HeadInfo(req.request_id, req.class_id, st.exists, st.base_model, st.stale, st.supports, st.summary,
                        st.error, removed)

    # --- preview (probability maps of one image) ------------------------------------------------

    @Slot()
    def preview(self) -> None:
        req = self._preview_box.take()
        if req is None:
            return
        self.busy_changed.emit(True)
        try:
            result = self._preview(req)
            if result is not None:
                self.preview_ready.emit(result)
        except Exception as exc:
            from symnet_core.cancel import OperationCancelled

            if not isinstance(exc, OperationCancelled):
                log.exception("preview of %s failed", req.key)
                self.job_failed.emit("preview", req.request_id, _error("preview", exc))
        finally:
            self.busy_changed.emit(False)

    def _stale(self, req: PreviewRequest) -> bool:
        return req.cancel.is_set() or self._preview_box.serial != req.request_id

    def _preview(self, req: PreviewRequest) -> PreviewResult | None:
        import cv2

        from symnet_core.adaptation.class_heads import apply_adapted_head

        if self._loaded is None:
            raise ServiceFailure(ServiceError("preview", "No model is loaded.", "Use Model ▸ Open checkpoint… first."))
        project = req.project
        cache = self._preview_cache
        if cache is None or cache[:3] != (req.support_key, req.threshold, req.use_base_learner):
            predictors: dict[int, Any] = {}
            for c in project.classes:
                images, masks = [], []
                for rec in project.supports(c.id):
                    img = project.read_image(rec.path, max_side=req.max_side)
                    full = project.get_mask(rec.path)
                    if full is None:
                        continue
                    binary = full == c.id
                    if binary.shape != img.rgb.shape[:2]:
                        binary = cv2.resize(binary.astype(np.uint8), (img.rgb.shape[1], img.rgb.shape[0]),
                                            interpolation=cv2.INTER_NEAREST) > 0
                    if binary.any():
                        images.append(img.rgb)
                        masks.append(binary)
                    if self._stale(req):
                        return None
                if images:
                    p = self._loaded.make_predictor(req.threshold, req.use_base_learner)
                    apply_adapted_head(project, c.id, p, [])  # the head propagation would use
                    p.set_supports(images, masks, c.name)
                    predictors[c.id] = p  # cached without this request's cancel token
            self._preview_cache = cache = (req.support_key, req.threshold, req.use_base_learner, predictors)
        predictors = cache[3]
        if not predictors:
            raise ServiceFailure(ServiceError("preview", "No supports yet.",
                                              "Paint the object on an image and press S to make it a support."))
        img = project.read_image(req.key, max_side=req.max_side)
        probs: dict[int, np.ndarray] = {}
        for cid, predictor in predictors.items():
            if self._stale(req):
                return None
            pred = _CancelAware(predictor, req.cancel).predict(img.rgb)
            probs[cid] = np.asarray(pred.probability, dtype=np.float32).copy()
        return PreviewResult(req.request_id, req.key, req.support_key, probs, img.full_size, req.threshold)

    # --- demo ------------------------------------------------------------------------------------

    @Slot(str, str)
    def prepare_demo(self, out_dir: str, model_path: str) -> None:
        self.busy_changed.emit(True)
        try:
            try:
                from symnet_core.training.synthetic import (
                    demo_dataset,
                    demo_folder_is_current,
                    make_demo_folder,
                )
            except ImportError as exc:
                raise ServiceFailure(ServiceError(
                    "demo", "The demo is not available in this build (the synthetic data generator is missing).",
                    "Open a folder of your own images with File ▸ Open folder…", str(exc))) from exc
            t0 = time.monotonic()
            folder = out_dir
            if (Path(folder) / ".demo.json").is_file() and not demo_folder_is_current(folder):
                # made for an older demo model (another class table): never mix the two projects
                ds = demo_dataset()
                folder = f"{out_dir}-s{ds.seed}c{ds.n_classes}h{ds.held_out}"
                log.info("the demo folder %s is from an older demo model; using %s", out_dir, folder)
            if demo_folder_is_current(folder):
                log.info("reusing the demo folder %s", folder)
            else:
                make_demo_folder(folder)
            log.info("demo folder ready at %s (%.1f s)", folder, time.monotonic() - t0)
            self.demo_ready.emit(folder, model_path)
        except Exception as exc:
            log.exception("preparing the demo failed")
            self.job_failed.emit("demo", 0, _error("demo", exc))
        finally:
            self.busy_changed.emit(False)

    # --- shutdown --------------------------------------------------------------------------------

    @Slot()
    def release(self) -> None:
        """Drop the model (runs on this thread as it finishes) and free the CUDA cache."""
        had_model = self._loaded is not None
        self._loaded = None
        self._preview_cache = None
        if had_model:
            import sys

            torch = sys.modules.get("torch")
            if torch is not None and torch.cuda.is_available():
                torch.cuda.empty_cache()
