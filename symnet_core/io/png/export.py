"""Export label masks as PNG files (class indices) plus a class table.

Layout written under ``out_dir``::

    classes.json           machine-readable: classes (id, name, colour), bit depth, image -> mask paths
    labelmap.txt           the same class table as text: ``id<TAB>name<TAB>r,g,b`` (0 = background)
    masks/<rel>.png        single-channel class indices, mirroring each image's relative path
    visualisations/<rel>.png   optional RGB colour rendering of the same mask (for eyes, not for training)

Label PNGs are plain greyscale (mode ``L``, 8-bit) when every category id is <= 255, else 16-bit greyscale
(``I;16``) for **all** files of the export, so a loader sees one dtype. They are deliberately not palette
PNGs: OpenCV's ``imread`` expands palettes to colour and loses the indices.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
from PIL import Image

from symnet_core.io.common import (
    ExportCategory,
    ExportImage,
    atomic_write_bytes,
    category_color,
    check_categories,
    present_class_ids,
    remove_stale_temps,
)

logger = logging.getLogger(__name__)

MANIFEST_NAME = "classes.json"
LABELMAP_NAME = "labelmap.txt"
MASKS_DIR = "masks"
VIS_DIR = "visualisations"
FORMAT_ID = "symnet-annotate label PNG"


@dataclass(frozen=True)
class PngExportOptions:
    """Options for :func:`write_png_masks`.

    Attributes:
        visualisations: also write RGB colour renderings under ``visualisations/``.
        naming: ``"stem"`` (``a/img.jpg`` -> ``masks/a/img.png``, the usual convention; two images that differ
            only by extension raise ValueError) or ``"full"`` (``masks/a/img.jpg.png``, never collides).
        bit_depth: ``"auto"`` (8 if max category id <= 255 else 16), or force 8 / 16.
        remove_stale: delete mask/visualisation PNGs listed in a previous ``classes.json`` in ``out_dir`` that
            this export did not write (e.g. an image that became unlabelled). Nothing else is ever deleted.
    """

    visualisations: bool = False
    naming: Literal["stem", "full"] = "stem"
    bit_depth: Literal["auto", 8, 16] = "auto"
    remove_stale: bool = True

    def __post_init__(self) -> None:
        if self.naming not in ("stem", "full"):
            raise ValueError("naming must be 'stem' or 'full'")
        if self.bit_depth not in ("auto", 8, 16):
            raise ValueError("bit_depth must be 'auto', 8 or 16")


@dataclass(frozen=True)
class PngExportStats:
    """Counts of a PNG export; ``mask_paths`` maps image file name -> mask path relative to ``out_dir``."""

    masks_written: int
    unlabelled_skipped: int
    stale_removed: int
    bit_depth: int
    mask_paths: dict[str, str]

    def summary(self) -> str:
        return (
            f"{self.masks_written} {self.bit_depth}-bit label PNGs written, "
            f"{self.unlabelled_skipped} unlabelled images skipped, {self.stale_removed} stale files removed"
        )


def mask_relpath(file_name: str, naming: Literal["stem", "full"] = "stem") -> str:
    """Mask path (POSIX, relative to the ``masks/`` folder) for an image's relative file name."""
    p = PurePosixPath(file_name)
    return str(p.with_suffix(".png")) if naming == "stem" else f"{file_name}.png"


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an ``HxW`` uint8 (greyscale ``L``), ``HxW`` uint16 (16-bit greyscale) or ``HxWx3`` uint8
    (RGB) array."""
    ok = (array.ndim == 2 and array.dtype in (np.uint8, np.uint16)) or (
        array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8
    )
    if not ok:
        raise ValueError(f"cannot write a {array.dtype} array of shape {array.shape} as a label/colour PNG")
    img = Image.fromarray(np.ascontiguousarray(array))  # uint8 -> L / RGB, uint16 -> I;16
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _lut(cats: list[ExportCategory]) -> np.ndarray:
    """``(max_id + 1) x 3`` uint8 RGB lookup table; background and unknown ids are black."""
    lut = np.zeros((max([c.id for c in cats], default=0) + 1, 3), np.uint8)
    for c in cats:
        lut[c.id] = category_color(c)
    return lut


def _manifest(cats: list[ExportCategory], bit_depth: int, options: PngExportOptions) -> dict[str, Any]:
    return {
        "format": FORMAT_ID,
        "format_version": 1,
        "bit_depth": bit_depth,
        "masks_dir": MASKS_DIR,
        "visualisations_dir": VIS_DIR if options.visualisations else None,
        "naming": options.naming,
        "background": {"id": 0, "name": "background", "color": [0, 0, 0]},
        "classes": [{"id": int(c.id), "name": c.name, "color": list(category_color(c))} for c in cats],
    }


def _labelmap_text(cats: list[ExportCategory]) -> str:
    lines = ["# symnet-annotate label map: id<TAB>name<TAB>r,g,b (label PNG pixel value = id)", "0\tbackground\t0,0,0"]
    for c in cats:
        r, g, b = category_color(c)
        lines.append(f"{c.id}\t{c.name}\t{r},{g},{b}")
    return "\n".join(lines) + "\n"


def _old_written(out_dir: Path) -> set[str]:
    try:
        old = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        if old.get("format") != FORMAT_ID:
            return set()
        paths = {e["mask"] for e in old.get("images", [])}
        paths |= {e["visualisation"] for e in old.get("images", []) if e.get("visualisation")}
        return paths
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()


def write_png_masks(
    out_dir: str | os.PathLike[str],
    images: Iterable[ExportImage],
    categories: Iterable[ExportCategory],
    *,
    options: PngExportOptions | None = None,
) -> PngExportStats:
    """Write label PNGs, ``classes.json`` and ``labelmap.txt`` under ``out_dir`` (every file atomically).

    Args:
        out_dir: output folder (created).
        images: images in project order; those with ``label_mask=None`` (unlabelled) get **no** PNG (an
            all-zero PNG would claim "no object here"), they are listed as ``unlabelled`` in ``classes.json``.
            Labelled images with an all-zero mask get an all-zero PNG.
        categories: project classes; every non-zero mask value must be one of their ids (ValueError naming
            the file otherwise). Colours default to the VOC colour map of the id.
        options: see :class:`PngExportOptions`.

    ``classes.json`` is written last, so a crash mid-export leaves the previous manifest in place.
    """
    options = options or PngExportOptions()
    out = Path(out_dir)
    cats = check_categories(categories)
    ids = {int(c.id) for c in cats}
    max_id = max(ids, default=0)
    bit_depth = (8 if max_id <= 255 else 16) if options.bit_depth == "auto" else int(options.bit_depth)
    if bit_depth == 8 and max_id > 255:
        raise ValueError(f"category id {max_id} does not fit into an 8-bit PNG; use bit_depth 16 or 'auto'")
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    lut = _lut(cats) if options.visualisations else None
    previous = _old_written(out) if options.remove_stale else set()
    remove_stale_temps(out)  # left by an export killed mid-write

    entries: list[dict[str, Any]] = []
    unlabelled: list[str] = []
    owner: dict[str, str] = {}
    for img in images:
        if img.label_mask is None:
            unlabelled.append(img.file_name)
            continue
        rel = mask_relpath(img.file_name, options.naming)
        key = rel.casefold()  # case-insensitive file systems would merge these
        if key in owner:
            raise ValueError(
                f"{img.file_name} and {owner[key]} would both be written to {MASKS_DIR}/{rel}; use naming='full'"
            )
        owner[key] = img.file_name
        mask = img.label_mask
        unknown = sorted(set(present_class_ids(mask)) - ids)
        if unknown:
            raise ValueError(f"{img.file_name}: label mask contains class ids {unknown} that are not categories")
        mask_rel = f"{MASKS_DIR}/{rel}"
        atomic_write_bytes(out / mask_rel, encode_png(mask.astype(dtype, copy=False)))
        entry = {"file_name": img.file_name, "mask": mask_rel, "width": img.width, "height": img.height}
        if lut is not None:
            vis_rel = f"{VIS_DIR}/{rel}"
            atomic_write_bytes(out / vis_rel, encode_png(lut[mask]))
            entry["visualisation"] = vis_rel
        entries.append(entry)

    manifest = _manifest(cats, bit_depth, options)
    manifest["images"] = entries
    manifest["unlabelled"] = unlabelled
    atomic_write_bytes(out / LABELMAP_NAME, _labelmap_text(cats).encode("utf-8"))
    atomic_write_bytes(out / MANIFEST_NAME, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))

    written = {e["mask"] for e in entries} | {e["visualisation"] for e in entries if "visualisation" in e}
    removed = 0
    for rel in sorted(previous - written):
        parts = PurePosixPath(rel).parts
        if len(parts) < 2 or parts[0] not in (MASKS_DIR, VIS_DIR) or ".." in parts or not rel.endswith(".png"):
            continue
        with contextlib.suppress(FileNotFoundError):
            (out / rel).unlink()
            removed += 1
    stats = PngExportStats(
        masks_written=len(entries),
        unlabelled_skipped=len(unlabelled),
        stale_removed=removed,
        bit_depth=bit_depth,
        mask_paths={e["file_name"]: e["mask"] for e in entries},
    )
    logger.info("PNG mask export to %s: %s", out, stats.summary())
    return stats
