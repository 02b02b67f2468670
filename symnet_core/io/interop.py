"""What the YOLO, Pascal VOC, labelme and CVAT exporters and importers share (no Qt, no project store).

* :class:`InstanceExportOptions`: the options that mean the same in every format (as in COCO).
* :class:`FormatExportStats`: counts, including every hole a format could not hold as such.
* helpers for copying images, reading foreign files with one clear error per bad file, and matching
  imported file names to the project's.

Masks are ``HxW`` ``uint8``/``uint16`` class ids (0 = background) in the EXIF-rotated image frame; see
:mod:`symnet_core.io.common`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from symnet_core.io.common import MAX_CLASS_ID, ExportCategory, ExportImage, check_categories, present_class_ids
from symnet_core.project.atomic import atomic_write_stream

__all__ = ["ForeignFileError", "FormatExportStats", "InstanceExportOptions", "match_keys"]

MAX_FOREIGN_FILE_BYTES = 512 * 1024 * 1024
"""Annotation files larger than this are refused (one file per image is never this big)."""


class ForeignFileError(ValueError):
    """A file of another tool could not be read; the message names the file and says why (one line)."""


@dataclass(frozen=True)
class InstanceExportOptions:
    """Options every instance format shares (same meaning as in :class:`~symnet_core.io.CocoExportOptions`).

    Attributes:
        per_component: one object per 8-connected component (default) instead of one per class per image.
        min_area: drop connected components with fewer pixels. 0 keeps everything.
        only_labelled: skip images whose ``label_mask`` is None (default). Labelled images with an empty
            mask are always written, as the format's "no object" (see docs/export-formats.md).
        copy_images: copy the image files next to the labels (YOLO ``images/``, VOC ``JPEGImages/``);
            needs ``images_root``.
    """

    per_component: bool = True
    min_area: int = 0
    only_labelled: bool = True
    copy_images: bool = True

    def __post_init__(self) -> None:
        if self.min_area < 0:
            raise ValueError("min_area must be >= 0")


@dataclass
class FormatExportStats:
    """What an export did; ``summary()`` is one line for a log, the CLI or the export dialog."""

    format: str = ""
    images: int = 0
    empty_images: int = 0
    unlabelled_skipped: int = 0
    objects: int = 0
    polygons: int = 0
    raster_objects: int = 0
    holes_kept_as_mask: int = 0
    holes_bridged: int = 0
    components_below_min_area: int = 0
    images_copied: int = 0
    files: list[str] = field(default_factory=list)

    def add(self, key: str, n: int = 1) -> None:
        setattr(self, key, getattr(self, key) + n)

    def summary(self) -> str:
        s = (
            f"{self.format}: {self.images} images ({self.empty_images} without objects), {self.objects} objects "
            f"({self.polygons} polygons, {self.raster_objects} raster masks)"
        )
        if self.unlabelled_skipped:
            s += f"; {self.unlabelled_skipped} unlabelled images skipped"
        if self.holes_kept_as_mask:
            s += f"; {self.holes_kept_as_mask} objects with holes written as masks"
        if self.holes_bridged:
            s += f"; {self.holes_bridged} objects with holes written as one ring with zero-width cuts"
        if self.components_below_min_area:
            s += f"; {self.components_below_min_area} components below min_area dropped"
        if self.images_copied:
            s += f"; {self.images_copied} images copied"
        return s

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "files"}


def labelled_images(
    images: Iterable[ExportImage], categories: Iterable[ExportCategory], options: InstanceExportOptions,
    stats: FormatExportStats,
) -> Iterable[ExportImage]:
    """The images to write (unlabelled ones skipped and counted), with duplicate names and unknown class ids
    in a mask refused (ValueError naming the file)."""
    cat_ids = {int(c.id) for c in check_categories(categories)}
    seen: set[str] = set()
    for img in images:
        if img.file_name in seen:
            raise ValueError(f"duplicate image file name {img.file_name!r}")
        seen.add(img.file_name)
        if img.label_mask is None and options.only_labelled:
            stats.add("unlabelled_skipped")
            continue
        if img.label_mask is not None:
            unknown = sorted(set(present_class_ids(img.label_mask)) - cat_ids)
            if unknown:
                raise ValueError(f"{img.file_name}: label mask contains class ids {unknown} that are not export "
                                 f"categories {sorted(cat_ids)}")
        stats.add("images")
        yield img


def copy_image(
    images_root: str | os.PathLike[str] | None, file_name: str, dest: Path, stats: FormatExportStats
) -> None:
    """Copy ``images_root/file_name`` to ``dest`` (bytes as they are, EXIF included) unless it is there."""
    if images_root is None:
        return
    src = Path(images_root) / file_name
    if dest.exists() and dest.stat().st_size == src.stat().st_size:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin:
        atomic_write_stream(dest, lambda fout: shutil.copyfileobj(fin, fout))
    stats.add("images_copied")


def read_foreign_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes, or ForeignFileError naming it (missing, unreadable, too large)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FOREIGN_FILE_BYTES:
            raise ForeignFileError(f"{p}: file is {size} bytes, more than the {MAX_FOREIGN_FILE_BYTES} accepted")
        return p.read_bytes()
    except OSError as e:
        raise ForeignFileError(f"{p}: cannot read ({e.strerror or e})") from e


def read_foreign_json(path: str | os.PathLike[str]) -> Any:
    """Parsed JSON (NaN/Infinity refused), or ForeignFileError naming the file."""
    data = read_foreign_bytes(path)

    def bad_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a valid number")

    try:
        return json.loads(data.decode("utf-8-sig"), parse_constant=bad_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ForeignFileError(f"{path}: not valid UTF-8 JSON ({str(e).splitlines()[0][:120]})") from e


def finite_number(value: Any, where: str) -> float:
    """``value`` as a finite float, else ForeignFileError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ForeignFileError(f"{where}: expected a number, got {str(value)[:40]!r}")
    try:
        v = float(value)
    except ValueError as e:
        raise ForeignFileError(f"{where}: expected a number, got {str(value)[:40]!r}") from e
    if not np.isfinite(v) or abs(v) > (1 << 20):
        raise ForeignFileError(f"{where}: number {str(value)[:40]} is not finite or out of range")
    return v


MAX_IMAGE_PIXELS = 1 << 28
"""Largest width*height an imported annotation may declare (a mask that size is 256 MiB)."""


def image_dims(width: Any, height: Any, where: str) -> tuple[int, int]:
    """``(width, height)`` as positive ints below 2**16 each (and width*height <= 2**28), else ForeignFileError."""
    out = []
    for name, v in (("width", width), ("height", height)):
        f = finite_number(v, f"{where}: {name}")
        if f != int(f) or not 1 <= f <= 65535:
            raise ForeignFileError(f"{where}: {name} must be an integer in 1..65535, got {v!r}")
        out.append(int(f))
    if out[0] * out[1] > MAX_IMAGE_PIXELS:
        raise ForeignFileError(f"{where}: {out[0]}x{out[1]} is more than {MAX_IMAGE_PIXELS} pixels")
    return out[0], out[1]


def check_inside(points: np.ndarray, w: int, h: int, where: str, margin: float = 2.0) -> np.ndarray:
    """ForeignFileError unless every ``(x, y)`` lies within ``[-margin, w + margin] x [-margin, h + margin]``
    (bounds the rasterising work: edge lengths cannot exceed the image)."""
    if points.size and (points[:, 0].min() < -margin or points[:, 0].max() > w + margin
                        or points[:, 1].min() < -margin or points[:, 1].max() > h + margin):
        raise ForeignFileError(f"{where}: points lie outside the {w}x{h} image")
    return points


def categories_from_names(names: Iterable[str]) -> list[ExportCategory]:
    """Categories with ids 1..N in the given order (ids are provisional: the CLI maps names to the
    project's classes)."""
    names = list(names)
    if len(names) > MAX_CLASS_ID:
        raise ForeignFileError(f"{len(names)} classes is more than {MAX_CLASS_ID}")
    return check_categories(ExportCategory(i, n) for i, n in enumerate(names, start=1))


def label_dtype(n_classes: int) -> np.dtype:
    return np.dtype(np.uint8) if n_classes <= 255 else np.dtype(np.uint16)


def match_keys(imported: Iterable[str], project_keys: Iterable[str]) -> dict[str, str]:
    """``{imported name: project image}``. Exact relative path first; then the same path without
    extension (``images/train/a/b.jpg`` vs ``a/b.png`` after a split folder is dropped); then a unique file
    stem. Ambiguous and unmatched names are left out."""
    keys = list(project_keys)
    exact = set(keys)
    by_noext: dict[str, list[str]] = defaultdict(list)
    by_stem: dict[str, list[str]] = defaultdict(list)
    for k in keys:
        by_noext[str(PurePosixPath(k).with_suffix(""))].append(k)
        by_stem[PurePosixPath(k).stem].append(k)
    out: dict[str, str] = {}
    for name in imported:
        if name in exact:
            out[name] = name
            continue
        p = PurePosixPath(name)
        hit = None
        parts = p.with_suffix("").parts
        for i in range(len(parts)):  # drop leading folders (split names) one by one
            cand = by_noext.get("/".join(parts[i:]), [])
            if len(cand) == 1:
                hit = cand[0]
                break
        if hit is None and len(by_stem.get(p.stem, [])) == 1:
            hit = by_stem[p.stem][0]
        if hit is not None:
            out[name] = hit
    return out


def crop_to_content(mask: np.ndarray) -> tuple[np.ndarray, int, int]:
    """``(crop, x0, y0)``: the bounding box of a bool ``HxW`` mask's set pixels (an empty 0x0 crop if none).
    Importers keep crops, not full frames, so a file with many objects does not hold many full masks."""
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if not len(ys):
        return np.zeros((0, 0), bool), 0, 0
    return mask[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1].copy(), int(xs[0]), int(ys[0])


Piece = tuple[np.ndarray, int, int, int]
"""``(bool crop, x0, y0, class id)``: one imported object placed at ``(x0, y0)`` in the image."""


def paint(shape: tuple[int, int], dtype: np.dtype, items: list[Piece]) -> np.ndarray:
    """Paint objects, largest first, so where they overlap the smaller one wins (the rule of
    :func:`~symnet_core.io.import_coco`); equal areas: the later one wins."""
    out = np.zeros(shape, dtype=dtype)
    areas = [int(m.sum()) for m, *_ in items]
    for i in sorted(range(len(items)), key=lambda i: -areas[i]):
        m, x0, y0, cid = items[i]
        region = out[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]]
        region[m] = cid
    return out

