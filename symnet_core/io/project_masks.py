"""What of a project gets exported: the glue between :mod:`symnet_core.project` and the exporters.

Which images (``which``):

* ``"verified"`` (default): supports, accepted and edited images — what a person made or checked.
  An accepted image without a mask is exported as a labelled image without objects (a checked
  negative).
* ``"all"``: also unreviewed predictions. Rejected and unlabelled images are never exported as
  labelled (an unlabelled image is not "nothing here").

Images are yielded lazily (one mask in memory at a time) and :class:`ProjectMasks` gives the
validator the same masks on demand, so exporting 10,000 images never holds them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

import numpy as np

from symnet_core.io.common import ExportCategory, ExportImage

if TYPE_CHECKING:
    from symnet_core.project import ImageStatus, Project

__all__ = ["WHICH", "ProjectMasks", "included", "iter_project_images", "project_categories"]

WHICH = ("verified", "all")


def included(status: ImageStatus, which: str) -> bool:
    """Whether an image of this status is exported as labelled."""
    from symnet_core.project import HUMAN_VERIFIED, ImageStatus

    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}, got {which!r}")
    return status in HUMAN_VERIFIED or (which == "all" and status is ImageStatus.PREDICTED)


def project_categories(project: Project) -> list[ExportCategory]:
    """Export categories from the project's classes (stable ids, names, colours)."""
    return [
        ExportCategory(c.id, c.name, tuple(int(c.color[i : i + 2], 16) for i in (1, 3, 5)))  # type: ignore[arg-type]
        for c in project.classes
    ]


def _mask_for(project: Project, key: str, status: ImageStatus, size: tuple[int, int]) -> np.ndarray | None:
    from symnet_core.project import ImageStatus

    mask = project.get_mask(key)
    if mask is None and status is ImageStatus.ACCEPTED:
        w, h = size
        mask = np.zeros((h, w), np.uint8)
    return mask


def iter_project_images(
    project: Project,
    which: str = "verified",
    warnings: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[ExportImage]:
    """One :class:`ExportImage` per image present on disk; ``label_mask`` is None when not exported."""
    records = [r for r in project.images if not r.missing]
    for i, rec in enumerate(records):
        if progress is not None:
            progress(i, len(records))
        try:
            w, h = project.image_size(rec.path)
        except ValueError as exc:
            if warnings is not None:
                warnings.append(f"{rec.path}: skipped ({exc})")
            continue
        try:
            mask = _mask_for(project, rec.path, rec.status, (w, h)) if included(rec.status, which) else None
        except ValueError as exc:  # a damaged or unsafe mask file: report it, export the others
            if warnings is not None:
                warnings.append(f"{rec.path}: skipped, its mask cannot be used ({exc})")
            continue
        yield ExportImage(rec.path, w, h, mask)


class ProjectMasks(Mapping[str, np.ndarray]):
    """``{file_name: label mask}`` of the exported images, read from the project on access."""

    def __init__(self, project: Project, which: str = "verified") -> None:
        self._project = project
        self._status = {r.path: r.status for r in project.images if not r.missing and included(r.status, which)}

    def __getitem__(self, key: str) -> np.ndarray:
        status = self._status[key]
        try:
            mask = _mask_for(self._project, key, status, self._project.image_size(key))
        except ValueError:  # damaged mask or image: skipped by the export too (reported there)
            raise KeyError(key) from None
        if mask is None:
            raise KeyError(key)
        return mask

    def items(self) -> Iterator[tuple[str, np.ndarray]]:  # type: ignore[override]
        """``(file_name, mask)`` pairs, leaving out images whose mask cannot be read."""
        for key in self:
            try:
                yield key, self[key]
            except KeyError:
                continue

    def __iter__(self) -> Iterator[str]:
        return (k for k in self._status if self._project.image(k).mask is not None or self._present(k))

    def _present(self, key: str) -> bool:
        from symnet_core.project import ImageStatus

        return self._status[key] is ImageStatus.ACCEPTED

    def __len__(self) -> int:
        return sum(1 for _ in self)
