"""Validate a COCO instances file the way downstream tools will read it (landscape §3.4).

Checks, in order: JSON structure and pycocotools ``COCO`` loading; ids (>= 1, unique); category
references; every segmentation decodes (RLE or polygons) inside its image; ``area``/``bbox`` agree with the
decoded segmentation; optionally the image files (existence, EXIF-rotated size) and the expected label masks;
finally the self-consistency COCOeval (GT evaluated against itself must give segm AP = 1.0).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from symnet_core.io.common import check_relative_posix, quiet_stdout, rle_string_counts
from symnet_core.io.images import apply_pixel_limit, pixel_limit_error

logger = logging.getLogger(__name__)

_MAX_MESSAGES = 200
_EXIF_ORIENTATION = 0x0112


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
class _Collector:
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


# ------------------------------------------------------------------------------------------- helpers


def oriented_image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of an image file after applying its EXIF orientation, without decoding pixels.

    Orientations 5-8 (transpose, rotate 90/270, transverse) swap width and height; values outside 1..8 and
    unreadable EXIF count as 1. Same rule as the app's image reader: for PNG only the eXIf chunk before the
    pixel data is read (Pillow's PNG ``getexif`` would decode the whole image to look further). Raises
    OSError (PIL's UnidentifiedImageError is one) when the file cannot be opened as an image. Same size
    policy as every reader (:func:`symnet_core.io.images.apply_pixel_limit`).
    """
    apply_pixel_limit()
    with Image.open(path) as im:
        w, h = im.size
        try:
            exif = Image.Image.getexif(im) if im.format == "PNG" else im.getexif()
            orientation = int(exif.get(_EXIF_ORIENTATION, 1) or 1)
        except Exception:  # a broken EXIF block must not make the image unreadable
            orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _load_json(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source))
    with open(source, encoding="utf-8") as f:
        return json.load(f)


def _coco_from_dict(data: Mapping[str, Any]) -> COCO:
    coco = COCO()
    coco.dataset = copy.deepcopy(dict(data))
    with quiet_stdout("pycocotools.COCO"):
        coco.createIndex()
    return coco


def _segmentation_rle(ann: Mapping[str, Any], h: int, w: int, where: str, col: _Collector) -> dict[str, Any] | None:
    """Validate the segmentation's form and return its compressed RLE (None after reporting an error)."""
    segm = ann.get("segmentation")
    if isinstance(segm, list):
        if not segm:
            col.error(f"{where}: empty polygon list")
            return None
        for ring in segm:
            if not isinstance(ring, list) or not all(_is_num(v) for v in ring):
                col.error(f"{where}: polygon must be a list of finite numbers")
                return None
            if len(ring) < 6 or len(ring) % 2:
                col.error(
                    f"{where}: polygon with {len(ring)} numbers (needs an even count >= 6; pycocotools reads "
                    "4 numbers as a bbox and crashes)"
                )
                return None
            xs, ys = ring[0::2], ring[1::2]
            if min(xs) < 0 or min(ys) < 0 or max(xs) > w or max(ys) > h:
                col.error(f"{where}: polygon coordinates outside the {w}x{h} image")
                return None
        col.counts["polygons"] += 1
        return mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
    if not isinstance(segm, dict) or "counts" not in segm or "size" not in segm:
        col.error(f"{where}: segmentation is neither a polygon list nor an RLE dict with 'size' and 'counts'")
        return None
    size = segm["size"]
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) for v in size)):
        col.error(f"{where}: RLE size must be [height, width], got {size!r}")
        return None
    if size != [h, w]:
        col.error(f"{where}: RLE size {size} (h, w) does not match the image {w}x{h} (w x h)")
        return None
    counts = segm["counts"]
    col.counts["rle"] += 1
    if isinstance(counts, list):
        if not all(_is_int(v) and v >= 0 for v in counts) or sum(counts) != h * w:
            col.error(f"{where}: uncompressed RLE counts must be non-negative ints summing to h*w = {h * w}")
            return None
        if not ann.get("iscrowd"):
            col.warn(f"{where}: uncompressed RLE (counts list) with iscrowd=0; many readers expect a string")
        return mask_utils.frPyObjects(segm, h, w)
    if not isinstance(counts, str):
        col.error(f"{where}: RLE counts must be a string (compressed) or a list of ints, got {type(counts).__name__}")
        return None
    if counts.startswith(("b'", 'b"')):
        col.error(f"{where}: RLE counts is a Python bytes repr ({counts[:12]}...); decode the bytes before json.dump")
        return None
    try:
        total = sum(rle_string_counts(counts))
    except (UnicodeEncodeError, ValueError) as e:
        col.error(f"{where}: malformed RLE counts string ({e})")
        return None
    if total != h * w:
        col.error(f"{where}: RLE counts sum to {total} pixels, not h*w = {h * w}")
        return None
    return {"size": [h, w], "counts": counts}


def _check_annotation(ann: dict[str, Any], img: Mapping[str, Any], col: _Collector) -> dict[str, Any] | None:
    """Decode one annotation, compare area and bbox; returns its (validated) compressed RLE or None.

    RLE counts were checked to sum to h*w (see :func:`rle_string_counts`), so pycocotools' ``decode``,
    ``area`` and ``toBbox`` give the exact pixels, pixel count and box. The decoded array is
    dropped at once, so memory stays at one mask whatever the file size.
    """
    where = f"annotation {ann.get('id')} ({img.get('file_name')})"
    h, w = img["height"], img["width"]
    rle = _segmentation_rle(ann, h, w, where, col)
    if rle is None:
        return None
    is_poly = isinstance(ann["segmentation"], list)
    try:
        mask_utils.decode(rle)
    except Exception as e:
        col.error(f"{where}: segmentation does not decode with pycocotools ({e})")
        return None
    px = int(mask_utils.area(rle))
    if px == 0:
        col.error(f"{where}: segmentation decodes to an empty mask")
        return rle
    area, bbox = ann.get("area"), ann.get("bbox")
    if not _is_num(area):
        col.error(f"{where}: area must be a number, got {area!r}")
    elif not is_poly and abs(area - px) > 1e-6:
        col.error(f"{where}: area {area} != {px} pixels of the decoded RLE")
    elif is_poly and abs(area - px) > max(2.0, 0.1 * px):
        col.error(f"{where}: area {area} differs from the {px} pixels the polygon rasterises to")
    elif is_poly and abs(area - px) > 0.5:
        col.warn(f"{where}: area {area} is not the rasterised polygon area {px}")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_num(v) for v in bbox)):
        col.error(f"{where}: bbox must be [x, y, w, h] numbers, got {bbox!r}")
        return rle
    ref = [float(v) for v in mask_utils.toBbox(rle)]
    diff = max(abs(a - b) for a, b in zip(bbox, ref, strict=True))
    if not is_poly and diff > 1e-6:
        col.error(f"{where}: bbox {bbox} != {ref} ([x, y, w, h]) of the decoded mask")
    elif is_poly:
        ring_pts = np.concatenate([np.asarray(r, np.float64).reshape(-1, 2) for r in ann["segmentation"]])
        lo, hi = ring_pts.min(axis=0), ring_pts.max(axis=0)
        geo = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
        diff_geo = max(abs(a - b) for a, b in zip(bbox, geo, strict=True))
        if min(diff, diff_geo) > 1.0:
            col.error(f"{where}: bbox {bbox} does not enclose the polygon (rasterised bbox {ref})")
        elif min(diff, diff_geo) > 1e-6:
            col.warn(f"{where}: bbox {bbox} differs slightly from the rasterised bbox {ref}")
    return rle


def _size_ok(img: Mapping[str, Any]) -> bool:
    """Within the one image-size policy (:data:`symnet_core.io.images.MAX_PIXELS`); larger sizes
    are never given to pycocotools (a 10^9 x 10^9 image with a polygon segfaults it)."""
    return pixel_limit_error(int(img["width"]), int(img["height"])) is None


def _check_structure(data: Any, col: _Collector) -> bool:
    """Top-level structure, images, categories and id rules. False if nothing further can be checked
    (the three top-level lists are missing)."""
    if not isinstance(data, dict):
        col.error("top level is not a JSON object")
        return False
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            col.error(f"missing or non-list '{key}'")
    if col.n_errors:
        return False
    for key in ("info", "licenses"):
        if key not in data:
            col.warn(f"no '{key}' entry (some tools require it)")
    for kind in ("images", "categories"):
        ids: set[Any] = set()
        for item in data[kind]:
            if not isinstance(item, dict) or not _is_int(item.get("id")):
                col.error(f"{kind}: entry without an integer id: {str(item)[:80]}")
                continue
            if item["id"] < 1:
                col.error(f"{kind}: id {item['id']} must be >= 1")
            if item["id"] in ids:
                col.error(f"{kind}: duplicate id {item['id']}")
            ids.add(item["id"])
    names: set[str] = set()
    for img in data["images"]:
        if not isinstance(img, dict):
            continue
        fn = img.get("file_name")
        try:
            check_relative_posix(fn)
        except ValueError as e:
            col.error(f"image {img.get('id')}: {e}")
        if fn in names:
            col.error(f"image {img.get('id')}: duplicate file_name {fn!r}")
        names.add(fn)
        if not all(_is_int(img.get(k)) and img[k] > 0 for k in ("width", "height")):
            col.error(f"image {img.get('id')} ({fn}): width/height must be positive ints")
        elif not _size_ok(img):
            col.error(f"image {img.get('id')} ({fn}): {pixel_limit_error(img['width'], img['height'])}")
    for cat in data["categories"]:
        if isinstance(cat, dict) and not isinstance(cat.get("name"), str):
            col.error(f"category {cat.get('id')}: missing name")
        if isinstance(cat, dict) and str(cat.get("name", "")).strip("_").lower() == "background":
            col.warn(f"category {cat.get('id')} is named {cat.get('name')!r}; COCO has no background category")
    return True


def _check_annotations(
    data: dict[str, Any], col: _Collector, expected: Mapping[str, np.ndarray | None] | None
) -> tuple[bool, dict[tuple[int, int], list[dict[str, Any]]]]:
    """Per-annotation checks. Returns (can_run_cocoeval, RLEs per (image_id, category_id) of expected images)."""
    images = {i["id"]: i for i in data["images"] if isinstance(i, dict) and _is_int(i.get("id"))}
    cat_ids = {c["id"] for c in data["categories"] if isinstance(c, dict) and _is_int(c.get("id"))}
    keep_for = {images[i].get("file_name"): i for i in images} if expected is not None else {}
    keep_ids = {keep_for[fn] for fn in expected or {} if fn in keep_for}
    decoded: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    ann_ids: set[int] = set()
    evaluable = True
    for ann in data["annotations"]:
        if not isinstance(ann, dict):
            col.error("annotations: entry is not an object")
            evaluable = False
            continue
        aid = ann.get("id")
        where = f"annotation {aid}"
        if not _is_int(aid):
            col.error(f"{where}: id must be an int")
            evaluable = False
        elif aid < 1:
            col.error(f"{where}: id must be >= 1 (COCOeval treats id 0 as 'unmatched')")
        elif aid in ann_ids:
            col.error(f"{where}: duplicate annotation id")
        if _is_int(aid):
            ann_ids.add(aid)
        if not _is_int(ann.get("image_id")) or ann["image_id"] not in images:
            col.error(f"{where}: image_id {ann.get('image_id')!r} is not in images")
            evaluable = False
            continue
        if not _is_int(ann.get("category_id")) or ann["category_id"] not in cat_ids:
            col.error(f"{where}: category_id {ann.get('category_id')!r} is not in categories")
            evaluable = False
        if "iscrowd" not in ann or ann["iscrowd"] not in (0, 1):
            col.error(f"{where}: iscrowd must be 0 or 1 (missing iscrowd crashes COCOeval)")
            evaluable = False
        elif ann["iscrowd"] == 1:
            col.counts["crowd"] += 1
            col.warn(f"{where}: iscrowd=1 (ignored by COCOeval, dropped by YOLO converters)")
        if "ignore" in ann:
            col.warn(f"{where}: has an 'ignore' field (no effect in COCOeval; detectron2 rejects ignore != 0)")
        img = images[ann["image_id"]]
        if not all(_is_int(img.get(k)) and img[k] > 0 for k in ("width", "height")) or not _size_ok(img):
            evaluable = False  # reported with the image; never passed to pycocotools (it crashes)
            continue
        rle = _check_annotation(ann, img, col)
        if rle is None:
            evaluable = False
        elif img["id"] in keep_ids:
            decoded[(img["id"], ann.get("category_id"))].append(rle)
    col.counts["annotations"] = len(data["annotations"])
    with_anns = {a.get("image_id") for a in data["annotations"] if isinstance(a, dict) and _is_int(a.get("image_id"))}
    col.counts["images_without_annotations"] = sum(1 for i in images if i not in with_anns)
    return evaluable, decoded


def _check_image_files(data: dict[str, Any], images_dir: Path, col: _Collector) -> None:
    for img in data["images"]:
        fn = img.get("file_name") if isinstance(img, dict) else None
        try:
            check_relative_posix(fn)
        except ValueError:
            continue  # already reported
        path = images_dir / fn
        if not path.is_file():
            col.error(f"{fn}: image file not found under {images_dir}")
            continue
        try:
            w, h = oriented_image_size(path)
        except Exception as e:
            col.error(f"{fn}: cannot read the image header ({e})")
            continue
        col.counts["image_files_checked"] += 1
        if (w, h) != (img.get("width"), img.get("height")):
            hint = " (EXIF rotation not applied?)" if (h, w) == (img.get("width"), img.get("height")) else ""
            col.error(
                f"{fn}: file is {w}x{h} after EXIF rotation but the JSON says "
                f"{img.get('width')}x{img.get('height')}{hint}"
            )


def _drop_small(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Remove 8-connected components smaller than ``min_area`` from a bool ``HxW`` mask."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    small = [k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] < min_area]
    return mask & ~np.isin(labels, small) if small else mask


def _check_expected(
    data: dict[str, Any],
    expected: Mapping[str, np.ndarray | None],
    decoded: dict[tuple[int, int], list[dict[str, Any]]],
    min_area: int,
    col: _Collector,
) -> None:
    by_name = {
        i["file_name"]: i
        for i in data["images"]
        if isinstance(i, dict)
        and isinstance(i.get("file_name"), str)
        and _is_int(i.get("width"))
        and _is_int(i.get("height"))
    }
    poly_anns = {
        (a.get("image_id"), a.get("category_id"))
        for a in data["annotations"]
        if isinstance(a, dict) and isinstance(a.get("segmentation"), list)
    }
    cat_ids = sorted({c["id"] for c in data["categories"] if isinstance(c, dict) and _is_int(c.get("id"))})
    cats_in_image: dict[Any, set[Any]] = defaultdict(set)
    for img_id, cid in decoded:
        cats_in_image[img_id].add(cid)
    for fn, mask in expected.items():
        if mask is None:
            continue
        img = by_name.get(fn)
        if img is None:
            col.error(f"{fn}: labelled in the project but missing from the COCO file")
            continue
        if mask.shape != (img["height"], img["width"]):
            col.error(
                f"{fn}: project mask is {mask.shape[1]}x{mask.shape[0]}, COCO image {img['width']}x{img['height']}"
            )
            continue
        col.counts["expected_images_checked"] += 1
        present = {int(v) for v in np.unique(mask)} - {0}
        extra = sorted(present - set(cat_ids))
        if extra:
            col.error(f"{fn}: project mask has class ids {extra} that have no COCO category")
        for cid in sorted((present | cats_in_image.get(img["id"], set())) & set(cat_ids)):
            want = mask == cid
            if min_area > 0 and want.any():
                want = _drop_small(want, min_area)
            parts = decoded.get((img["id"], cid), [])
            if not parts and not want.any():
                continue
            got = mask_utils.decode(mask_utils.merge(parts)).astype(bool) if parts else np.zeros_like(want)
            if (img["id"], cid) in poly_anns:
                union = np.logical_or(got, want).sum()
                iou = float(np.logical_and(got, want).sum() / union) if union else 1.0
                if iou < 0.95:
                    col.error(f"{fn}: class {cid} polygons have IoU {iou:.3f} < 0.95 with the project mask")
            elif not np.array_equal(got, want):
                col.error(
                    f"{fn}: class {cid} RLE union differs from the project mask in "
                    f"{int(np.logical_xor(got, want).sum())} pixels"
                )
    missing = len(by_name) - sum(1 for fn in by_name if fn in expected)
    if missing:
        col.warn(f"{missing} images in the COCO file have no mask to compare with")


# ------------------------------------------------------------------------------------------- public


def self_consistency_ap(source: str | os.PathLike[str] | Mapping[str, Any]) -> float:
    """Segm AP of a COCO ground truth evaluated against itself (every non-crowd annotation as a result).

    A correct file gives exactly 1.0; annotation id 0 gives ~0.25, missing ``iscrowd`` raises. Results are
    compressed RLE with ``score`` 1.0 and **no** ``bbox`` (``loadRes`` would otherwise take its bbox branch
    and set ``area = w*h``). ``maxDets`` is raised to the largest per-image annotation count (COCOeval's
    default 100 would cap a many-component image), and AP is read from ``eval['precision']`` (area 'all',
    largest maxDets) instead of ``summarize()``, which hard-codes maxDets=100. The value is rounded to 9
    decimals. Returns NaN when there is no non-crowd annotation. Accepts a path or an already loaded dict
    (not modified).
    """
    data = _load_json(source)
    gt = _coco_from_dict(data)
    results = []
    per_image: dict[Any, int] = defaultdict(int)
    for ann in gt.dataset.get("annotations", []):
        if ann.get("iscrowd", 0):
            continue
        rle = gt.annToRLE(ann)
        counts = rle["counts"]
        results.append(
            {
                "image_id": ann["image_id"],
                "category_id": ann["category_id"],
                "segmentation": {
                    "size": [int(v) for v in rle["size"]],
                    "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
                },
                "score": 1.0,
            }
        )
        per_image[ann["image_id"]] += 1
    if not results:
        return float("nan")
    with quiet_stdout("pycocotools.COCOeval"):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "segm")
        ev.params.maxDets = [1, 10, max(100, *per_image.values())]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][:, :, :, 0, -1]
    valid = precision[precision > -1]
    # COCOeval divides by (tp + fp + eps), so a perfect result is 1 - 2e-16; round that away (a real
    # defect costs at least ~1e-5 even with 1000 categories).
    return round(float(valid.mean()), 9) if valid.size else float("nan")


def validate_coco_data(
    data: Any,
    images_dir: str | os.PathLike[str] | None = None,
    expected: Mapping[str, np.ndarray | None] | None = None,
    *,
    check_ap: bool = True,
    expected_min_area: int = 0,
) -> ValidationReport:
    """Validate an in-memory COCO dict (same checks as :func:`validate_coco` minus file loading)."""
    col = _Collector()
    if not _check_structure(data, col):
        return col.report(None)
    col.counts["images"] = len(data["images"])
    col.counts["categories"] = len(data["categories"])
    evaluable, decoded = _check_annotations(data, col, expected)
    if images_dir is not None:
        _check_image_files(data, Path(images_dir), col)
    if expected is not None:
        _check_expected(data, expected, decoded, expected_min_area, col)
    ap: float | None = None
    if check_ap and evaluable:
        try:
            ap = self_consistency_ap(data)
        except Exception as e:
            col.error(f"COCOeval failed on the file: {type(e).__name__}: {e}")
        else:
            if not math.isnan(ap) and ap < 1.0 - 1e-9:
                col.error(f"self-consistency AP is {ap:.3f}, expected 1.000 (ids, iscrowd or duplicates wrong)")
    elif check_ap:
        col.warn("self-consistency AP not computed because of the errors above")
    return col.report(ap)


def validate_coco(
    json_path: str | os.PathLike[str],
    images_dir: str | os.PathLike[str] | None = None,
    expected: Mapping[str, np.ndarray | None] | None = None,
    *,
    check_ap: bool = True,
    expected_min_area: int = 0,
) -> ValidationReport:
    """Validate a COCO instances file; never raises for a bad file (problems go into the report).

    Args:
        json_path: the COCO JSON file (UTF-8).
        images_dir: if given, every ``file_name`` must exist under it and its EXIF-rotated size (read from the
            header, pixels are not decoded) must equal ``width``/``height``.
        expected: ``{file_name: HxW label mask or None}`` from the project. RLE annotations of each class must
            decode to exactly ``mask == class`` (union over the class); classes with polygons need IoU >= 0.95.
        check_ap: run :func:`self_consistency_ap` (must be 1.0).
        expected_min_area: the ``min_area`` the file was exported with; components smaller than this are
            removed from the expected masks before comparing.
    """
    try:
        data = _load_json(json_path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        col = _Collector()
        col.error(f"{os.fspath(json_path)}: cannot be read as JSON ({e})")
        return col.report(None)
    try:
        with quiet_stdout("pycocotools.COCO"):
            COCO(os.fspath(json_path))
    except Exception as e:
        pyc_error = f"pycocotools.coco.COCO cannot load the file: {type(e).__name__}: {e}"
    else:
        pyc_error = None
    report = validate_coco_data(data, images_dir, expected, check_ap=check_ap, expected_min_area=expected_min_area)
    if pyc_error is None:
        return report
    return ValidationReport(
        ok=False, counts=report.counts, errors=(pyc_error, *report.errors), warnings=report.warnings, ap=report.ap
    )
