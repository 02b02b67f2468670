"""The outcome of a COCO validation (:class:`ValidationReport`) and the collector that the checks
append errors and warnings to (at most 200 messages of each kind are kept, the rest counted)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Collector", "ValidationReport"]

_MAX_MESSAGES = 200


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of :func:`validate_coco`.

    Attributes:
        ok: no errors (warnings allowed).
        counts: ``images``, ``annotations``, ``categories``, ``rle``, ``polygons``, ``crowd``,
            ``images_without_annotations``, ``image_files_checked``, ``expected_images_checked``.
        errors / warnings: human-readable messages naming the image file or annotation id (capped at 200
            each, then one "... and N more" line).
        ap: self-consistency segm AP (1.0 expected), ``None`` if not computed, NaN if there is nothing
            to evaluate.
    """

    ok: bool
    counts: Mapping[str, int]
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    ap: float | None = None

    def summary(self, max_lines: int = 10) -> str:
        """Multi-line text for the CLI or a dialog: verdict, counts, AP, first messages."""
        c = self.counts
        head = "COCO file OK" if self.ok else f"COCO file INVALID ({len(self.errors)} errors)"
        lines = [
            f"{head}: {c.get('images', 0)} images, {c.get('annotations', 0)} annotations "
            f"({c.get('rle', 0)} RLE, {c.get('polygons', 0)} polygons), {c.get('categories', 0)} categories"
        ]
        if self.ap is not None:
            lines.append(
                "self-consistency AP: n/a (no annotations)"
                if math.isnan(self.ap)
                else f"self-consistency AP: {self.ap:.3f}"
            )
        if c.get("image_files_checked"):
            lines.append(f"image files checked: {c['image_files_checked']}")
        if c.get("expected_images_checked"):
            lines.append(f"masks compared with the project: {c['expected_images_checked']}")
        for title, msgs in (("error", self.errors), ("warning", self.warnings)):
            lines.extend(f"  {title}: {m}" for m in msgs[:max_lines])
            if len(msgs) > max_lines:
                lines.append(f"  ... {len(msgs) - max_lines} more {title}s")
        return "\n".join(lines)


@dataclass
class Collector:
    """Errors, warnings and counts gathered by the checks; :meth:`report` freezes them."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    n_errors: int = 0
    n_warnings: int = 0
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def error(self, msg: str) -> None:
        self.n_errors += 1
        if len(self.errors) < _MAX_MESSAGES:
            self.errors.append(msg)

    def warn(self, msg: str) -> None:
        self.n_warnings += 1
        if len(self.warnings) < _MAX_MESSAGES:
            self.warnings.append(msg)

    def report(self, ap: float | None) -> ValidationReport:
        errors, warnings = list(self.errors), list(self.warnings)
        if self.n_errors > len(errors):
            errors.append(f"... and {self.n_errors - len(errors)} more errors")
        if self.n_warnings > len(warnings):
            warnings.append(f"... and {self.n_warnings - len(warnings)} more warnings")
        return ValidationReport(
            ok=self.n_errors == 0, counts=dict(self.counts), errors=tuple(errors), warnings=tuple(warnings), ap=ap
        )
