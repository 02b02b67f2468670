"""Reading a project's supports for the predictor: each class's images and binary masks."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from symnet_core.io.images import ImageReadError
from symnet_core.project import Project
from symnet_core.workflows.contracts import PropagationError, PropagationReport

__all__ = ["binary_at", "load_class_supports", "start_report"]


def binary_at(mask: np.ndarray, class_id: int, size: tuple[int, int]) -> np.ndarray:
    """Class ``class_id`` of a full-size index mask as an ``H x W`` bool mask of ``size=(w, h)``."""
    binary = mask == class_id
    if binary.shape[::-1] == size:
        return binary
    small = cv2.resize(binary.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    out = small >= 0.5
    return out if out.any() or not binary.any() else small > 0  # keep tiny objects


def load_class_supports(
    project: Project, class_ids: Sequence[int], max_side: int | None, report: PropagationReport
) -> dict[int, tuple[list[np.ndarray], list[np.ndarray]]]:
    """Each class's supports: ``{class_id: (RGB images, bool masks of that class)}``.

    Images are decoded with their long side ≤ ``max_side``; unreadable supports add a warning to
    ``report``; classes without any painted support are absent.
    """
    cache: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
    out: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    for cid in class_ids:
        images, masks = [], []
        for rec in project.supports(cid):
            if rec.path not in cache:
                try:
                    img = project.read_image(rec.path, max_side=max_side)
                    mask = project.get_mask(rec.path)
                    cache[rec.path] = None if mask is None else (img.rgb, mask)
                except (ImageReadError, ValueError) as exc:
                    report.warnings.append(f"support '{rec.path}' skipped: {exc}")
                    cache[rec.path] = None
            entry = cache[rec.path]
            if entry is None:
                continue
            rgb, mask = entry
            binary = binary_at(mask, cid, (rgb.shape[1], rgb.shape[0]))
            if binary.any():
                images.append(rgb)
                masks.append(binary)
        if images:
            out[cid] = (images, masks)
    return out


def start_report(
    project: Project, scope: str, max_side: int | None
) -> tuple[dict[int, str], PropagationReport, dict[int, tuple[list[np.ndarray], list[np.ndarray]]]]:
    """What every propagation engine does first: ``({class_id: name}, a fresh report, the supports)``.

    Classes without a painted support get a warning in the report and are absent from the supports.

    Raises:
        PropagationError: no class has a support.
    """
    names = {c.id: c.name for c in project.classes}
    report = PropagationReport(run_id="", scope=scope)
    supports = load_class_supports(project, list(names), max_side, report)
    for cid, name in names.items():
        if cid not in supports:
            report.warnings.append(f"class '{name}' has no support with painted pixels; not propagated")
    if not supports:
        raise PropagationError("no support masks: paint at least one image and mark it as a support")
    report.classes = sorted(supports)
    return names, report, supports
