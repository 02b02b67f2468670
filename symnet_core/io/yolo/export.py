"""YOLO segmentation export (the ultralytics layout): ``images/``, ``labels/*.txt`` polygons, ``data.yaml``.

Layout under ``out_dir`` (``<split>/`` only with ``val_fraction > 0``)::

    data.yaml                      train: images/train  val: images/val  (or images / images)
                                   nc: N  names: {0: first class, 1: ...}   (no "path": relative to this file)
    images/<split>/<rel path>      the image file as it is (copied; needs images_root)
    labels/<split>/<rel stem>.txt  one line per object: "<class index> x1 y1 x2 y2 ..." normalised to [0, 1]

Class index = position of the class in the project's class list (0-based; ``names`` maps it back).
Coordinates are the edge frame divided by width/height, traced along pixel edges: pixel-centre rasterisers
(pycocotools; Datumaro) give back exactly the mask. A line holds ONE ring, so an object with holes (or, with
``per_component=False``, a class's several parts) is written as one ring joined by zero-width cuts (the way
ultralytics' own COCO converter joins multi-part objects); counted as ``holes_bridged``. ``cv2.fillPoly``
(ultralytics' training loader) also fills the outline, so there masks grow by up to one pixel and cuts show.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import yaml

from symnet_core.io.common import ExportCategory, ExportImage, atomic_write_bytes, check_categories
from symnet_core.io.interop import (
    FormatExportStats,
    InstanceExportOptions,
    copy_image,
    labelled_images,
)
from symnet_core.io.polygons import bridge_holes, class_instances, component_rings

logger = logging.getLogger(__name__)

DATA_YAML = "data.yaml"


@dataclass(frozen=True)
class YoloSplit:
    """Deterministic train/val split: an image goes to ``val`` when the SHA-256 of ``"{seed}:{file_name}"``,
    read as a number in [0, 1), is below ``val_fraction`` (independent of image order; adding images never
    moves the others). ``val_fraction=0``: no split folders; data.yaml uses ``images`` for train and val."""

    val_fraction: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("val_fraction must be in [0, 1)")

    def subset(self, file_name: str) -> str:
        if self.val_fraction <= 0:
            return ""
        digest = hashlib.sha256(f"{self.seed}:{file_name}".encode()).digest()
        return "val" if int.from_bytes(digest[:8], "big") / 2**64 < self.val_fraction else "train"


def _line(index: int, ring, w: int, h: int) -> str:
    coords = " ".join(f"{x / w:.6f} {y / h:.6f}" for x, y in ring)
    return f"{index} {coords}"


def write_yolo(
    out_dir: str | os.PathLike[str],
    images: Iterable[ExportImage],
    categories: Iterable[ExportCategory],
    *,
    options: InstanceExportOptions | None = None,
    images_root: str | os.PathLike[str] | None = None,
    split: YoloSplit | None = None,
) -> FormatExportStats:
    """Write a YOLO segmentation dataset; returns the stats. ``images_root`` is where the image files are
    (copied when ``options.copy_images``). Two images whose paths differ only by extension raise ValueError
    (they would share a label file). Empty labelled images get an empty ``.txt`` (a background image)."""
    options = options or InstanceExportOptions()
    split = split or YoloSplit()
    cats = check_categories(categories)
    index = {int(c.id): i for i, c in enumerate(cats)}
    out = Path(out_dir)
    stats = FormatExportStats(format="YOLO")
    seen: dict[str, str] = {}
    subsets: set[str] = set()
    for img in labelled_images(images, cats, options, stats):
        key = str(PurePosixPath(img.file_name).with_suffix("")).casefold()
        if key in seen:
            raise ValueError(f"{seen[key]!r} and {img.file_name!r} would share one label file; rename one")
        seen[key] = img.file_name
        sub = split.subset(img.file_name)
        subsets.add(sub)
        rel = PurePosixPath(sub, img.file_name) if sub else PurePosixPath(img.file_name)
        label_path = out / "labels" / rel.with_suffix(".txt")
        lines: list[str] = []
        if img.label_mask is not None:
            dropped: list[int] = []
            instances = class_instances(img.label_mask, list(index), per_component=options.per_component,
                                        min_area=options.min_area, dropped=dropped)
            stats.add("components_below_min_area", sum(dropped))
            for cid, comps in instances:
                rings = []
                had_holes = False
                for c in comps:
                    outer, holes = component_rings(c.crop)
                    assert outer is not None
                    had_holes |= bool(holes)
                    offset = np.array([c.x0, c.y0], np.float64)
                    rings += [np.add(r, offset) for r in (outer, *holes)]
                if had_holes:
                    stats.add("holes_bridged")
                lines.append(_line(index[cid], bridge_holes(rings[0], rings[1:]), img.width, img.height))
                stats.add("objects")
                stats.add("polygons")
        if not lines:
            stats.add("empty_images")
        atomic_write_bytes(label_path, ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8"))
        if options.copy_images:
            copy_image(images_root, img.file_name, out / "images" / rel, stats)
    if "val" in subsets:
        train, val = "images/train", "images/val"
    elif subsets == {"train"}:
        logger.warning("YOLO export: no image fell into the val split; val uses the train images")
        train = val = "images/train"
    else:
        train = val = "images"
    data = {"train": train, "val": val, "nc": len(cats), "names": {i: c.name for i, c in enumerate(cats)}}
    text = "# symnet-annotate YOLO segmentation export; paths are relative to this file\n"
    text += yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    atomic_write_bytes(out / DATA_YAML, text.encode("utf-8"))
    stats.files.append(str(out / DATA_YAML))
    logger.info("%s", stats.summary())
    return stats
