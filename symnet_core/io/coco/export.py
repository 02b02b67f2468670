"""COCO instance-segmentation export from label masks (pycocotools does all RLE work).

Conventions (see ``docs/export-formats.md`` and landscape §3):

* image, annotation and category ids start at 1; category ids are the project's stable class ids;
  no background category; ``iscrowd`` is always 0; no ``ignore`` field.
* ``segmentation`` is compressed RLE (``{"size": [h, w], "counts": "<str>"}``) by default. Polygon mode
  writes pixel-edge polygons (see :func:`component_polygon`) that pycocotools rasterises back to the exact
  mask; components with holes fall back to RLE because COCO polygons cannot express holes.
* ``area`` and ``bbox`` (``[x, y, w, h]``, floats, COCO's continuous frame in which pixel ``(x, y)``
  covers ``[x, x+1) x [y, y+1)``) are computed by pycocotools from the exported segmentation itself.
* one annotation per **8-connected** component by default (pixels touching at a corner are one object,
  the same rule ``cv2.findContours`` uses to trace an outline), or one per class per image.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from symnet_core.io.common import (
    ExportCategory,
    ExportImage,
    atomic_write_bytes,
    check_categories,
    present_class_ids,
)
from symnet_core.io.polygons import component_polygon, components

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class CocoExportOptions:
    """How label masks become COCO annotations.

    Attributes:
        polygons: write polygons instead of compressed RLE (RLE is exact and keeps holes; polygons are for
            tools that cannot read RLE). Components with holes, degenerate outlines or polygon IoU below
            ``min_polygon_iou`` fall back to RLE (counted in :class:`CocoExportStats`).
        per_component: one annotation per 8-connected component (default) instead of one per class per image.
        min_area: drop connected components with fewer pixels (in both modes). 0 keeps everything.
        only_labelled: skip images whose ``label_mask`` is ``None`` (default). Labelled images with an
            all-zero mask are always written, with no annotations (true negatives).
        polygon_tolerance: ``cv2.approxPolyDP`` epsilon in pixels for polygon simplification; 0 (default)
            keeps the exact pixel outline (IoU 1.0 after pycocotools rasterisation).
        min_polygon_iou: a simplified polygon below this IoU with its mask is replaced by the exact outline.
        indent: JSON indentation for :func:`write_coco` (``None`` = compact).
    """

    polygons: bool = False
    per_component: bool = True
    min_area: int = 0
    only_labelled: bool = True
    polygon_tolerance: float = 0.0
    min_polygon_iou: float = 0.95
    indent: int | None = None

    def __post_init__(self) -> None:
        if self.min_area < 0:
            raise ValueError("min_area must be >= 0")
        if self.polygon_tolerance < 0:
            raise ValueError("polygon_tolerance must be >= 0")
        if not 0.0 < self.min_polygon_iou <= 1.0:
            raise ValueError("min_polygon_iou must be in (0, 1]")


@dataclass(frozen=True)
class CocoExportStats:
    """What an export did; ``summary()`` is one line for a log, the CLI or a status bar."""

    images: int = 0
    empty_images: int = 0
    unlabelled_skipped: int = 0
    unlabelled_included: int = 0
    annotations: int = 0
    rle_annotations: int = 0
    polygon_annotations: int = 0
    rle_fallback_holes: int = 0
    rle_fallback_degenerate: int = 0
    rle_fallback_low_iou: int = 0
    components_below_min_area: int = 0

    @property
    def rle_fallbacks(self) -> int:
        """Annotations written as RLE although polygons were requested."""
        return self.rle_fallback_holes + self.rle_fallback_degenerate + self.rle_fallback_low_iou

    def summary(self) -> str:
        s = (
            f"{self.images} images ({self.empty_images} without objects), {self.annotations} annotations "
            f"({self.rle_annotations} RLE, {self.polygon_annotations} polygon)"
        )
        if self.unlabelled_skipped:
            s += f"; {self.unlabelled_skipped} unlabelled images skipped"
        if self.unlabelled_included:
            s += f"; {self.unlabelled_included} unlabelled images included without annotations"
        if self.rle_fallbacks:
            s += (
                f"; {self.rle_fallbacks} written as RLE instead of polygons "
                f"({self.rle_fallback_holes} with holes, {self.rle_fallback_degenerate} degenerate, "
                f"{self.rle_fallback_low_iou} low IoU)"
            )
        if self.components_below_min_area:
            s += f"; {self.components_below_min_area} components below min_area dropped"
        return s


@dataclass(frozen=True)
class CocoExport:
    """Result of :func:`build_coco`: the JSON-ready dict and the statistics."""

    data: dict[str, Any]
    stats: CocoExportStats


@dataclass
class _Counter:
    values: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + n


# --------------------------------------------------------------------------------------------- polygons


def _polygon_rle(polys: list[list[float]], h: int, w: int) -> dict[str, Any]:
    return mask_utils.merge(mask_utils.frPyObjects(polys, h, w))


def _rle_iou(a: dict[str, Any], b: dict[str, Any]) -> float:
    return float(mask_utils.iou([a], [b], [0])[0][0])


# ------------------------------------------------------------------------------------------------ export


class _ImageEncoder:
    """Per-image helper: full-frame Fortran buffer reused for encoding cropped components."""

    def __init__(self, h: int, w: int, options: CocoExportOptions, counter: _Counter) -> None:
        self.h, self.w = h, w
        self.options = options
        self.counter = counter
        self._buf: np.ndarray | None = None

    def encode_crop(self, crop: np.ndarray, x0: int, y0: int) -> dict[str, Any]:
        """Compressed RLE (bytes counts) of a crop placed at ``(x0, y0)`` in the full ``h x w`` frame."""
        if self._buf is None:
            self._buf = np.zeros((self.h, self.w), dtype=np.uint8, order="F")
        ch, cw = crop.shape
        region = self._buf[y0 : y0 + ch, x0 : x0 + cw]
        region[...] = crop
        try:
            return mask_utils.encode(self._buf)
        finally:
            region[...] = 0

    def segmentation(self, parts: list[tuple[np.ndarray, int, int]]) -> tuple[Any, dict[str, Any]]:
        """Segmentation + the RLE it rasterises to, for one annotation made of component crops.

        ``parts`` are ``(crop uint8 HcxWc, x0, y0)`` of the components forming the annotation.
        """
        if len(parts) == 1:
            rle = self.encode_crop(*parts[0])
        else:
            rle = mask_utils.merge([self.encode_crop(*p) for p in parts])
        if not self.options.polygons:
            return _rle_json(rle), rle
        tol = self.options.polygon_tolerance
        rings: list[list[float]] = []
        for crop, x0, y0 in parts:
            poly, holes = component_polygon(crop, tol)
            if holes:
                self.counter.add("rle_fallback_holes")
                return _rle_json(rle), rle
            if tol > 0 and (poly is None or len(poly) < 6):  # simplified away: keep the exact outline
                poly = component_polygon(crop, 0.0)[0]
            ring = _offset(poly, x0, y0)
            if ring is None:
                self.counter.add("rle_fallback_degenerate")
                return _rle_json(rle), rle
            rings.append(ring)
        prle = _polygon_rle(rings, self.h, self.w)
        if tol > 0 and _rle_iou(prle, rle) < self.options.min_polygon_iou:
            exact = [_offset(component_polygon(c, 0.0)[0], x0, y0) for c, x0, y0 in parts]
            if all(r is not None for r in exact):
                rings = [r for r in exact if r is not None]
                prle = _polygon_rle(rings, self.h, self.w)
        if _rle_iou(prle, rle) < self.options.min_polygon_iou:
            self.counter.add("rle_fallback_low_iou")
            return _rle_json(rle), rle
        return rings, prle


def _offset(poly: list[float] | None, x0: int, y0: int) -> list[float] | None:
    """Polygon shifted by ``(x0, y0)``; None if missing or fewer than 3 points."""
    if poly is None or len(poly) < 6:
        return None
    out = list(poly)
    out[0::2] = [v + x0 for v in out[0::2]]
    out[1::2] = [v + y0 for v in out[1::2]]
    return out


def _rle_json(rle: dict[str, Any]) -> dict[str, Any]:
    counts = rle["counts"]
    return {
        "size": [int(rle["size"][0]), int(rle["size"][1])],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def _components(class_mask: np.ndarray, min_area: int, counter: _Counter) -> list[tuple[np.ndarray, int, int]]:
    """8-connected components of a bool ``HxW`` mask as ``(crop uint8, x0, y0)`` in raster-scan order."""
    dropped: list[int] = []
    comps = components(class_mask, min_area, dropped)
    if dropped[0]:
        counter.add("components_below_min_area", dropped[0])
    return [(c.crop, c.x0, c.y0) for c in comps]


def _image_annotations(
    img: ExportImage, cat_ids: list[int], options: CocoExportOptions, counter: _Counter
) -> list[tuple[int, Any, dict[str, Any]]]:
    """``(category_id, segmentation, rle)`` for every annotation of one labelled image."""
    mask = img.label_mask
    assert mask is not None
    present = present_class_ids(mask)
    unknown = sorted(set(present) - set(cat_ids))
    if unknown:
        raise ValueError(
            f"{img.file_name}: label mask contains class ids {unknown} that are not among the export "
            f"categories {sorted(cat_ids)}"
        )
    enc = _ImageEncoder(img.height, img.width, options, counter)
    out: list[tuple[int, Any, dict[str, Any]]] = []
    present_set = set(present)
    for cid in cat_ids:
        if cid not in present_set:
            continue
        comps = _components(mask == cid, options.min_area, counter)
        if not comps:
            continue
        groups = [[c] for c in comps] if options.per_component else [comps]
        for parts in groups:
            seg, rle = enc.segmentation(parts)
            out.append((cid, seg, rle))
    return out


def _default_info(info: Mapping[str, Any] | None, options: CocoExportOptions) -> dict[str, Any]:
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    out: dict[str, Any] = {
        "description": "symnet-annotate export",
        "version": "1.0",
        "year": now.year,
        "contributor": "",
        "url": "",
        "date_created": now.isoformat(),
        "symnet_export_options": {k: v for k, v in asdict(options).items() if k != "indent"},
    }
    if info:
        out.update(info)
    return out


def build_coco(
    images: Iterable[ExportImage],
    categories: Iterable[ExportCategory],
    *,
    options: CocoExportOptions | None = None,
    info: Mapping[str, Any] | None = None,
) -> CocoExport:
    """Build a COCO instances dict from label masks; see :func:`export_coco`. Returns data and stats."""
    options = options or CocoExportOptions()
    cats = check_categories(categories)
    cat_ids = [int(c.id) for c in cats]
    counter = _Counter()
    out_images: list[dict[str, Any]] = []
    out_anns: list[dict[str, Any]] = []
    seen_names: set[str] = set()
    for img in images:
        if img.file_name in seen_names:
            raise ValueError(f"duplicate image file name {img.file_name!r}")
        seen_names.add(img.file_name)
        if img.label_mask is None:
            if options.only_labelled:
                counter.add("unlabelled_skipped")
                continue
            counter.add("unlabelled_included")
        image_id = len(out_images) + 1
        out_images.append(
            {"id": image_id, "file_name": img.file_name, "width": int(img.width), "height": int(img.height)}
        )
        if img.label_mask is None:
            continue
        anns = _image_annotations(img, cat_ids, options, counter)
        if not anns:
            counter.add("empty_images")
        for cid, seg, rle in anns:
            is_poly = isinstance(seg, list)
            counter.add("polygon_annotations" if is_poly else "rle_annotations")
            out_anns.append(
                {
                    "id": len(out_anns) + 1,
                    "image_id": image_id,
                    "category_id": cid,
                    "segmentation": seg,
                    "area": float(mask_utils.area(rle)),
                    "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    "iscrowd": 0,
                }
            )
    data = {
        "info": _default_info(info, options),
        "licenses": [],
        "images": out_images,
        "annotations": out_anns,
        "categories": [{"id": int(c.id), "name": c.name, "supercategory": ""} for c in cats],
    }
    stats = CocoExportStats(images=len(out_images), annotations=len(out_anns), **counter.values)
    logger.info("COCO export: %s", stats.summary())
    return CocoExport(data=data, stats=stats)


def export_coco(
    images: Iterable[ExportImage],
    categories: Iterable[ExportCategory],
    *,
    options: CocoExportOptions | None = None,
    info: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """COCO instances dict (JSON-ready: only str/int/float/list/dict) for ``images``.

    Args:
        images: labelled (and unlabelled) images, consumed once and in order; image ids are 1..N in that
            order. Masks are processed one at a time, so a lazy generator keeps memory flat.
        categories: the project's class table; its order and ids are kept. Every non-zero value in a mask
            must be one of these ids (ValueError naming the file otherwise).
        options: see :class:`CocoExportOptions` (defaults: compressed RLE, one annotation per 8-connected
            component, unlabelled images skipped).
        info: entries merged into the ``info`` block (e.g. a fixed ``date_created`` for reproducible files).

    Annotation order: image order, then category order, then components in raster-scan order of their
    first pixel. Statistics (RLE fallbacks etc.) are logged; use :func:`build_coco` to get them.
    """
    return build_coco(images, categories, options=options, info=info).data


def coco_to_json_bytes(data: Mapping[str, Any], indent: int | None = None) -> bytes:
    """Serialise a COCO dict: ASCII-only JSON (non-ASCII names as ``\\uXXXX``; readers that open the file
    with a non-UTF-8 default encoding, e.g. pycocotools on Windows, still work), NaN/inf rejected."""
    separators = (",", ": ") if indent is not None else (",", ":")
    return json.dumps(data, ensure_ascii=True, allow_nan=False, indent=indent, separators=separators).encode("ascii")


def write_coco(
    path: str | os.PathLike[str],
    images: Iterable[ExportImage],
    categories: Iterable[ExportCategory],
    *,
    options: CocoExportOptions | None = None,
    info: Mapping[str, Any] | None = None,
) -> CocoExportStats:
    """Export and write atomically to ``path`` (temp file + fsync + ``os.replace``); returns the stats.

    Nothing is written if the export raises (an existing file at ``path`` stays as it was).
    """
    options = options or CocoExportOptions()
    result = build_coco(images, categories, options=options, info=info)
    atomic_write_bytes(path, coco_to_json_bytes(result.data, options.indent))
    logger.info("wrote %s", os.fspath(path))
    return result.stats


def split_coco_by_category(data: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """One COCO dict per category: all images, that category only, annotation ids renumbered from 1."""
    out: dict[int, dict[str, Any]] = {}
    for cat in data["categories"]:
        anns = [dict(a) for a in data["annotations"] if a["category_id"] == cat["id"]]
        for i, a in enumerate(anns, start=1):
            a["id"] = i
        out[int(cat["id"])] = {
            **{k: v for k, v in data.items() if k not in ("annotations", "categories")},
            "annotations": anns,
            "categories": [dict(cat)],
        }
    return out


def _slug(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name.strip())
    return keep.strip("_") or "class"


def write_coco_per_class(
    out_dir: str | os.PathLike[str],
    images: Iterable[ExportImage],
    categories: Iterable[ExportCategory],
    *,
    options: CocoExportOptions | None = None,
    info: Mapping[str, Any] | None = None,
    stem: str = "instances",
) -> dict[int, str]:
    """Write one COCO file per class, ``{out_dir}/{stem}_{id}_{name}.json`` (every file lists all images).

    Returns ``{category id: path}``.
    """
    options = options or CocoExportOptions()
    result = build_coco(images, categories, options=options, info=info)
    paths: dict[int, str] = {}
    cat_names = {int(c["id"]): c["name"] for c in result.data["categories"]}
    for cid, part in split_coco_by_category(result.data).items():
        p = os.path.join(os.fspath(out_dir), f"{stem}_{cid}_{_slug(cat_names[cid])}.json")
        atomic_write_bytes(p, coco_to_json_bytes(part, options.indent))
        paths[cid] = p
    return paths
