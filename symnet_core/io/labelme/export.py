"""labelme JSON export: one ``<rel stem>.json`` per image, polygons, and ``mask`` shapes for objects with holes.

Each file (labelme 5.x format; ``imageData`` is null, ``imagePath`` points at the image)::

    {"version": "5.5.0", "flags": {}, "imagePath": "img 1.jpg", "imageData": null,
     "imageHeight": H, "imageWidth": W,
     "shapes": [{"label": "cat", "points": [[x, y], ...], "group_id": null, "description": "",
                 "shape_type": "polygon", "flags": {}, "mask": null},
                {"label": "cat", "points": [[x1, y1], [x2, y2]], "shape_type": "mask",
                 "mask": "<base64 PNG of the (y2-y1+1) x (x2-x1+1) box>", ...}]}

Polygons are in labelme's centre frame (pixel ``(x, y)`` is the point ``(x, y)``) and run through the centres of
the boundary pixels, so labelme's own rasteriser (PIL polygon with outline) gives back exactly the object.
A polygon cannot hold a hole, so an object with holes is a ``mask`` shape (exact). Objects of 1 or 2 pixels
are polygons whose points repeat (labelme needs 3 points). With ``per_component=False`` the parts of a class
share a ``group_id``.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image

from symnet_core.io.common import ExportCategory, ExportImage, atomic_write_bytes, check_categories
from symnet_core.io.interop import FormatExportStats, InstanceExportOptions, copy_image, labelled_images
from symnet_core.io.polygons import Component, centre_outline, class_instances, component_rings

logger = logging.getLogger(__name__)

LABELME_VERSION = "5.5.0"


def mask_b64(crop: np.ndarray) -> str:
    """Base64 of a 1-bit PNG of a ``HxW`` bool/0-1 array (labelme's ``mask`` field)."""
    arr = np.ascontiguousarray(crop, dtype=bool)
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8) * 255).convert("1").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _shape(label: str, points: list[list[float]], shape_type: str, group: int | None, mask: str | None) -> dict:
    return {"label": label, "points": points, "group_id": group, "description": "", "shape_type": shape_type,
            "flags": {}, "mask": mask}


def _component_shape(label: str, c: Component, group: int | None, stats: FormatExportStats) -> dict[str, Any]:
    _, holes = component_rings(c.crop)
    if holes:
        ch, cw = c.crop.shape
        stats.add("holes_kept_as_mask")
        stats.add("raster_objects")
        pts = [[float(c.x0), float(c.y0)], [float(c.x0 + cw - 1), float(c.y0 + ch - 1)]]
        return _shape(label, pts, "mask", group, mask_b64(c.crop))
    ring = centre_outline(c.crop)
    assert ring is not None
    pts = [[float(x + c.x0), float(y + c.y0)] for x, y in ring]
    while len(pts) < 3:
        pts.append(list(pts[-1]))
    stats.add("polygons")
    return _shape(label, pts, "polygon", group, None)


def write_labelme(
    out_dir: str | os.PathLike[str],
    images: Iterable[ExportImage],
    categories: Iterable[ExportCategory],
    *,
    options: InstanceExportOptions | None = None,
    images_root: str | os.PathLike[str] | None = None,
) -> FormatExportStats:
    """Write ``out_dir/<rel path without extension>.json`` per image (the image is copied beside it when
    ``options.copy_images``, else ``imagePath`` points into ``images_root``). Returns the stats. An empty
    labelled image gets a file with no shapes; unlabelled images get no file."""
    options = options or InstanceExportOptions()
    cats = check_categories(categories)
    names = {int(c.id): c.name for c in cats}
    out = Path(out_dir)
    stats = FormatExportStats(format="labelme")
    seen: dict[str, str] = {}
    for img in labelled_images(images, cats, options, stats):
        rel = PurePosixPath(img.file_name)
        key = str(rel.with_suffix("")).casefold()
        if key in seen:
            raise ValueError(f"{seen[key]!r} and {img.file_name!r} would share one labelme file; rename one")
        seen[key] = img.file_name
        json_path = out / rel.with_suffix(".json")
        if options.copy_images and images_root is not None:
            copy_image(images_root, img.file_name, out / rel, stats)
            image_path = rel.name
        elif images_root is not None:
            image_path = Path(os.path.relpath(Path(images_root) / rel, json_path.parent)).as_posix()
        else:
            image_path = rel.name
        shapes: list[dict[str, Any]] = []
        if img.label_mask is not None:
            dropped: list[int] = []
            instances = class_instances(img.label_mask, list(names), per_component=options.per_component,
                                        min_area=options.min_area, dropped=dropped)
            stats.add("components_below_min_area", sum(dropped))
            for k, (cid, comps) in enumerate(instances, start=1):
                group = None if options.per_component else k
                shapes += [_component_shape(names[cid], c, group, stats) for c in comps]
                stats.add("objects")
        if not shapes:
            stats.add("empty_images")
        doc = {"version": LABELME_VERSION, "flags": {}, "shapes": shapes, "imagePath": image_path,
               "imageData": None, "imageHeight": int(img.height), "imageWidth": int(img.width)}
        atomic_write_bytes(json_path, json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=1).encode("utf-8"))
    logger.info("%s", stats.summary())
    return stats
