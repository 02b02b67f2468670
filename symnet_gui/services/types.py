"""Plain data exchanged between the GUI thread and the services (frozen dataclasses, numpy).

Nothing here imports Qt or torch. Arrays handed across threads are copies owned by the receiver.
Image arrays are in the *oriented* image frame (EXIF applied): ``H x W x 3`` uint8 RGB; label
masks ``H x W`` uint8/uint16 class ids (0 = background); probabilities ``H x W`` float32 in [0, 1].
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from symnet_core.project import Project

__all__ = [
    "AdaptOutcome",
    "AdaptRequest",
    "HeadInfo",
    "HeadStatusRequest",
    "ModelInfo",
    "ModelSpec",
    "PreviewRequest",
    "PreviewResult",
    "PropagationOutcome",
    "PropagationRequest",
    "ServiceError",
]

SCOPES = ("unlabelled", "selected", "all")


@dataclass(frozen=True)
class ModelSpec:
    """Which model to load, and how.

    Attributes:
        checkpoint: path of a checkpoint file (the demo model is just another path).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        label: a short human name shown in the UI (defaults to the file name).
    """

    checkpoint: str
    device: str = "auto"
    label: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """A loaded model, as the UI shows it.

    Attributes:
        model_id: recorded with each prediction (``file name + short hash`` for real checkpoints).
        description: one line (``CheckpointInfo.describe()``).
        device: the resolved device (``cpu``, ``cuda:0``...).
        text_encoder: how class names are embedded, in words.
        warnings: things the user should know (e.g. no text embedding available offline).
        can_adapt: the predictor offers test-time adaptation (``symnet_core.adaptation.adapt_predictor``).
        load_seconds: how long loading took.
    """

    model_id: str
    description: str
    device: str
    text_encoder: str = ""
    warnings: tuple[str, ...] = ()
    can_adapt: bool = False
    load_seconds: float = 0.0


@dataclass(frozen=True)
class PropagationRequest:
    """One propagation run. ``project`` is the core store, which is thread-safe by design
    (every public method takes its lock, ``store_prediction`` never overwrites human work);
    no GUI object is ever handed to the worker.

    Attributes:
        job_id: monotonic id from the service.
        scope: ``unlabelled``, ``selected`` (with ``selected`` keys) or ``all``.
        threshold: probability threshold, or ``None`` for the predictor's own.
        use_base_learner: ``False`` = meta-learner only.
        cancel: set from the GUI thread to stop after the image in flight.
    """

    job_id: int
    project: Project
    scope: str
    selected: tuple[str, ...] = ()
    threshold: float | None = 0.5
    use_base_learner: bool = True
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {self.scope!r}")


@dataclass(frozen=True)
class PropagationOutcome:
    """What a finished (or cancelled) run did; built from ``PropagationReport``."""

    job_id: int
    run_id: str
    total: int
    predicted: tuple[str, ...]
    skipped_protected: int
    failed: tuple[tuple[str, str], ...]
    unreadable: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...]
    cancelled: bool
    elapsed_s: float
    summary: str
    adapted_classes: tuple[int, ...] = ()  # classes whose adapted head the run used


@dataclass(frozen=True)
class AdaptRequest:
    """Adapt the model head to one class's supports (``symnet_core.adaptation.class_heads.adapt_class``).

    Attributes:
        job_id: monotonic id from the service (shared with propagation: one long job at a time).
        class_id: the class whose supports are used; its head is saved in the project.
        threshold, use_base_learner: how the predictor is made (as for propagation).
        config: overrides of ``AdaptConfig`` fields as ``(name, value)`` pairs; ``()`` = the
            core's defaults (what users get). Tests pass few steps.
        cancel: set from the GUI thread; the core polls it every step.
    """

    job_id: int
    project: Project
    class_id: int
    threshold: float = 0.5
    use_base_learner: bool = True
    config: tuple[tuple[str, Any], ...] = ()
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)


@dataclass(frozen=True)
class AdaptOutcome:
    """A finished or cancelled adaptation; built from ``AdaptReport`` (``summary`` = ``describe()``).

    ``kept`` False: the adapted head predicted the supports worse than the checkpoint's and was
    discarded (the checkpoint's head stays in use for this class).
    """

    job_id: int
    class_id: int
    class_name: str
    cancelled: bool = False
    kept: bool = False
    steps: int = 0
    supports: int = 0
    check: str = ""  # how the supports were checked: "leave-one-out" or "self"
    check_iou_before: float = 0.0
    check_iou_after: float = 0.0
    seconds: float = 0.0
    summary: str = ""


@dataclass(frozen=True)
class HeadStatusRequest:
    request_id: int
    project: Project
    class_id: int
    remove: bool = False  # delete the class's adapted head first (Reset)


@dataclass(frozen=True)
class HeadInfo:
    """What the project holds for one class (``symnet_core.adaptation.class_heads.head_status``).

    Attributes:
        exists: a head file is there. base_model: checkpoint id it was adapted from.
        stale: supports changed since. supports: how many it saw. summary: the adaptation report.
        error: the file is unusable (message). removed: a Reset deleted a head just now.
    """

    request_id: int
    class_id: int
    exists: bool
    base_model: str = ""
    stale: bool = False
    supports: int = 0
    summary: str = ""
    error: str = ""
    removed: bool = False


@dataclass(frozen=True)
class PreviewRequest:
    """Probability maps of one image with the current supports (for the uncertainty overlay).

    ``support_key`` identifies the support set (class ids, names, support paths and their
    ``updated`` stamps): the worker re-encodes supports only when it changes.
    """

    request_id: int
    project: Project
    key: str
    support_key: str
    threshold: float = 0.5
    use_base_learner: bool = True
    max_side: int = 1024
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)


@dataclass(frozen=True, eq=False)
class PreviewResult:
    """``probabilities``: ``{class_id: H' x W' float32}`` at a reduced size of the image
    (same aspect; the canvas scales it to the image). ``full_size`` = ``(W, H)`` of the image."""

    request_id: int
    key: str
    support_key: str
    probabilities: dict[int, np.ndarray]
    full_size: tuple[int, int]
    threshold: float


@dataclass(frozen=True)
class ServiceError:
    """A failure reported by a service job: ``message`` for people, ``hint`` says what to do."""

    kind: str
    message: str
    hint: str = ""
    details: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
