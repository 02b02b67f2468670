"""Validate a COCO instances file the way downstream tools will read it.

Checks, in order: JSON structure and pycocotools ``COCO`` loading; ids (>= 1, unique); category
references; every segmentation decodes (RLE or polygons) inside its image; ``area``/``bbox`` agree with the
decoded segmentation; optionally the image files (existence, EXIF-rotated size) and the expected label masks;
finally the self-consistency COCOeval (GT evaluated against itself must give segm AP = 1.0).
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from symnet_core.io.coco.checks import (
    check_annotations,
    check_expected,
    check_image_files,
    check_structure,
    coco_from_dict,
    load_json,
)
from symnet_core.io.coco.report import Collector, ValidationReport
from symnet_core.io.common import quiet_stdout

__all__ = ["self_consistency_ap", "validate_coco", "validate_coco_data"]


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
    data = load_json(source)
    gt = coco_from_dict(data)
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
    col = Collector()
    if not check_structure(data, col):
        return col.report(None)
    col.counts["images"] = len(data["images"])
    col.counts["categories"] = len(data["categories"])
    evaluable, decoded = check_annotations(data, col, expected)
    if images_dir is not None:
        check_image_files(data, Path(images_dir), col)
    if expected is not None:
        check_expected(data, expected, decoded, expected_min_area, col)
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
        data = load_json(json_path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        col = Collector()
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
