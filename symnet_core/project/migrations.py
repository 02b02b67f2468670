"""Upgrading ``project.json`` written by older schemas; refusing newer ones.

Each step ``_vN_to_vN1`` takes the raw dictionary of schema N and returns schema N+1; they are
chained up to :data:`SCHEMA_VERSION`. Migration only rewrites JSON: mask files are referenced
by name from each image record, so they never need moving. The store keeps a copy of the
original file (``project.v<N>.json.bak``) before writing the migrated one.

Schema 0 (the prototype layout, before this package)::

    {"version": 0,
     "labels": ["cat", "dog"],                    # class ids were list positions + 1
     "images": {"sub/a.jpg": {"state": "todo" | "auto" | "done" | "support",
                              "score": 0.8,       # optional
                              "size": [w, h],     # optional
                              "mask": "masks/sub__a.png"}}}   # optional, relative to .symnet/
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from symnet_core.project.errors import ProjectFormatError, ProjectVersionError
from symnet_core.project.schema import DEFAULT_COLORS, FORMAT_NAME, SCHEMA_VERSION, now_iso

__all__ = ["detect_version", "migrate"]

_V0_STATES = {"todo": "unlabelled", "auto": "predicted", "done": "accepted", "support": "support"}


def detect_version(data: Any, source: Path | str) -> int:
    """Schema version of a raw ``project.json`` dictionary."""
    if not isinstance(data, dict):
        raise ProjectFormatError(f"'{source}' is not a valid project file: not a JSON object")
    if "schema_version" in data:
        v = data["schema_version"]
    elif data.get("version") == 0 and "labels" in data:
        v = 0
    else:
        raise ProjectFormatError(f"'{source}' is not a valid project file: no 'schema_version'")
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ProjectFormatError(f"'{source}': invalid schema_version {v!r}")
    return v


def _v0_to_v1(d: dict[str, Any]) -> dict[str, Any]:
    labels = d.get("labels", [])
    classes = [
        {"id": i, "name": str(name), "color": DEFAULT_COLORS[(i - 1) % len(DEFAULT_COLORS)]}
        for i, name in enumerate(labels, start=1)
    ]
    images = []
    for path, info in sorted(d.get("images", {}).items()):
        info = info or {}
        rec: dict[str, Any] = {"path": path, "status": _V0_STATES.get(info.get("state", "todo"), "unlabelled")}
        size = info.get("size")
        if isinstance(size, list) and len(size) == 2:
            rec["width"], rec["height"] = int(size[0]), int(size[1])
        mask = info.get("mask")
        if mask:
            rec["mask"] = str(mask).removeprefix("masks/")
        elif rec["status"] != "unlabelled":
            rec["status"] = "unlabelled"  # v0 could mark an image done without a mask file
        if info.get("score") is not None:
            rec["confidence"] = float(info["score"])
        images.append(rec)
    return {
        "format": FORMAT_NAME,
        "schema_version": 1,
        "app_version": "",
        "created": now_iso(),
        "next_class_id": len(classes) + 1,
        "classes": classes,
        "settings": dict(d.get("settings", {})),
        "runs": [],
        "images": images,
    }


_STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _v0_to_v1}


def migrate(data: Any, source: Path | str) -> tuple[dict[str, Any], int]:
    """Bring a raw dictionary to the current schema.

    Returns:
        ``(data at SCHEMA_VERSION, the version it was read at)``.

    Raises:
        ProjectVersionError: written by a newer schema than this app knows.
        ProjectFormatError: not a project file at all.
    """
    found = detect_version(data, source)
    if found > SCHEMA_VERSION:
        written_by = data.get("app_version") or "a newer version"
        raise ProjectVersionError(
            f"'{source}' was written by symnet-annotate {written_by} (project schema {found}); "
            f"this version reads schema {SCHEMA_VERSION} and older. Update symnet-annotate to "
            "open it; the project was not modified."
        )
    v = found
    while v < SCHEMA_VERSION:
        try:
            data = _STEPS[v](data)
        except (AttributeError, TypeError, KeyError, ValueError) as exc:  # a damaged or forged old file
            raise ProjectFormatError(
                f"'{source}' claims project schema {v} but does not have its layout ({type(exc).__name__}: "
                f"{str(exc)[:120]}); restore it from a backup, or fix its \"schema_version\""
            ) from exc
        v += 1
    return data, found
