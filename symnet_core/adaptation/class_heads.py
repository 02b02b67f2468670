"""Adapted heads in a project: adapt one class on its supports, store it, apply it when propagating.

One file per class, ``.symnet/adapted/class-<id>.pth`` (:func:`adapted_head_path`),
holding the head weights, the ``checkpoint_id`` of the model it was adapted from, and metadata
(class name, the supports it saw with their modification times, the settings, the
:class:`~symnet_core.adaptation.head_tuning.AdaptReport`). :func:`symnet_core.workflows.propagation.propagate_project`
applies it to predictors it builds from a factory when the ids match; a head made for another
checkpoint is ignored with a warning. Painting more supports later does not discard the head
(:func:`head_status` says it is stale; adapting again replaces it).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from symnet_core.cancel import CancelLike
from symnet_core.project import Project, ProjectWriteError

log = logging.getLogger(__name__)

__all__ = [
    "HeadStatus",
    "adapt_class",
    "adapted_head_path",
    "apply_adapted_head",
    "has_adapted_head",
    "head_digest",
    "head_status",
    "remove_adapted_head",
]

# This module imports torch only inside the functions that read or write head weights:
# adapted_head_path, has_adapted_head and remove_adapted_head are cheap and torch-free.


def adapted_head_path(project_dir: str | os.PathLike[str], class_id: int) -> Path:
    """Where a project keeps the adapted head of one class: ``<project_dir>/adapted/class-<id>.pth``."""
    return Path(project_dir) / "adapted" / f"class-{int(class_id)}.pth"


def has_adapted_head(project: Project, class_id: int) -> bool:
    """Whether the class has a head file (not read; see :func:`head_status`)."""
    return adapted_head_path(project.project_dir, class_id).is_file()


@dataclass(frozen=True)
class HeadStatus:
    """What the project holds for one class.

    Attributes:
        exists: a head file is there. base_model: the checkpoint it was adapted from.
        stale: supports were added, removed or repainted since. supports: how many it saw.
        summary: one human-readable line (the adaptation report).
        error: why the file cannot be used (unreadable, not a head), else ``""``.
    """

    exists: bool
    base_model: str = ""
    stale: bool = False
    supports: int = 0
    summary: str = ""
    error: str = ""


def _supports_record(project: Project, class_id: int) -> list[list[str]]:
    return sorted([r.path, r.updated or ""] for r in project.supports(class_id))


def head_digest(project: Project, class_id: int) -> str | None:
    """Short SHA-1 of the class's head file (part of a propagation run's fingerprint), or ``None``."""
    path = adapted_head_path(project.project_dir, class_id)
    if not path.is_file():
        return None
    return hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()[:12]


def head_status(project: Project, class_id: int) -> HeadStatus:
    """Whether the class has an adapted head, for which model, and whether its supports changed."""
    from symnet_core.adaptation.head_tuning import AdaptedHeadError, load_adapted_head

    path = adapted_head_path(project.project_dir, class_id)
    if not path.is_file():
        return HeadStatus(False)
    try:
        head = load_adapted_head(path, lazy=True)  # metadata only: the tensors are never read
    except AdaptedHeadError as exc:
        return HeadStatus(True, error=str(exc))
    meta = head.metadata
    stale = meta.get("supports_used") != _supports_record(project, class_id)
    return HeadStatus(True, head.base_model, stale, int(meta.get("supports", 0)), str(meta.get("summary", "")))


def adapt_class(
    project: Project,
    class_id: int,
    predictor: Any,
    config: Any = None,
    *,
    max_side: int | None = 1024,
    progress: Callable[[int, int], None] | None = None,
    cancel: CancelLike | None = None,
) -> Any:
    """Adapt ``predictor`` to the supports of one class and save the head in the project.

    A head that fails the support check (``report.kept`` False) is not saved; an earlier head
    file of the class stays as it was.

    Args:
        predictor: a :class:`symnet_core.Predictor` (its supports are replaced by this class's).
        config: :class:`symnet_core.adaptation.head_tuning.AdaptConfig` or ``None`` for the defaults.
        max_side: supports are decoded with their long side ≤ this (as propagation does).

    Returns:
        the :class:`~symnet_core.adaptation.head_tuning.AdaptReport`.

    Raises:
        ValueError: the class has no support with painted pixels.
        ProjectWriteError: the project is read-only.
        OperationCancelled: ``cancel`` was set (nothing is written).
    """
    from symnet_core.adaptation.head_tuning import adapt_predictor, config_dict, save_adapted_head
    from symnet_core.workflows.contracts import PropagationReport
    from symnet_core.workflows.supports import load_class_supports

    name = project.class_by_id(class_id).name
    if project.read_only:
        raise ProjectWriteError(project.project_dir / "adapted", PermissionError("the project is open read-only"))
    report = PropagationReport(run_id="", scope="adapt")
    supports = load_class_supports(project, [class_id], max_side, report)
    if class_id not in supports:
        raise ValueError(f"class '{name}' has no support with painted pixels: paint and mark supports first")
    images, masks = supports[class_id]
    predictor.reset_head()
    predictor.set_supports(images, masks, name)
    result = adapt_predictor(predictor, config=config, progress=progress, cancel=cancel)
    metadata = {
        "class_id": class_id,
        "class_name": name,
        "supports": len(images),
        "supports_used": _supports_record(project, class_id),
        "report": asdict(result),
        "summary": result.describe(),
        "config": config_dict(config) if config is not None else None,
        "warnings": report.warnings,
    }
    path = adapted_head_path(project.project_dir, class_id)
    if not result.kept:  # worse on the supports: the project keeps whatever head it had
        log.info("class '%s': %s", name, result.describe())
        return result
    try:
        save_adapted_head(path, predictor.head_state(), str(predictor.model_id), metadata)
    except OSError as exc:
        raise ProjectWriteError(path, exc) from exc
    log.info("class '%s': %s; saved %s", name, result.describe(), path)
    return result


def apply_adapted_head(project: Project, class_id: int, predictor: Any, warnings: list[str]) -> bool:
    """Load the class's head into ``predictor`` when there is one made from the same checkpoint.

    Predictors without ``load_head`` (fakes, other models) are left alone. Unusable files add a
    message to ``warnings`` and are skipped. Returns whether a head was applied.
    """
    from symnet_core.adaptation.head_tuning import AdaptedHeadError, load_adapted_head

    path = adapted_head_path(project.project_dir, class_id)
    if not path.is_file() or not callable(getattr(predictor, "load_head", None)):
        return False
    name = project.class_by_id(class_id).name
    try:
        head = load_adapted_head(path, str(getattr(predictor, "model_id", "")))
        predictor.load_head(head.state, head.metadata)
    except (AdaptedHeadError, ValueError) as exc:
        warnings.append(f"class '{name}': adapted head not used — {exc}")
        return False
    log.info("class '%s': using adapted head %s", name, path)
    return True


def remove_adapted_head(project: Project, class_id: int) -> bool:
    """Delete the class's adapted head (back to the checkpoint's head); returns whether one existed."""
    path = adapted_head_path(project.project_dir, class_id)
    existed = path.is_file()
    path.unlink(missing_ok=True)
    return existed
