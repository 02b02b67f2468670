"""Read labelme JSON files into label masks, with labelme's own rasterising rules.

``polygon`` and ``rectangle``/``circle`` shapes are drawn as labelme's ``shape_to_mask`` draws them (PIL, centre
frame, outline included); ``mask`` shapes are pasted into the box ``points[0]..points[1]``. Lines and points
are not areas: skipped and counted. Shapes are painted in file order (a later shape wins), as labelme's
``shapes_to_label`` does. The label ``_background_`` is background.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import math
import os
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from symnet_core.io.common import ExportCategory
from symnet_core.io.interop import (
    ForeignFileError,
    categories_from_names,
    check_inside,
    image_dims,
    label_dtype,
    read_foreign_json,
)
from symnet_core.io.polygons import check_points, rasterise_centre_polygon

logger = logging.getLogger(__name__)

_SKIPPED = ("line", "linestrip", "point", "points")


def _decode_mask(b64: Any, where: str) -> np.ndarray:
    if not isinstance(b64, str):
        raise ForeignFileError(f"{where}: mask must be a base64 PNG string")
    try:
        with Image.open(io.BytesIO(base64.b64decode(b64, validate=True))) as im:
            if im.width * im.height > 1 << 28:
                raise ForeignFileError(f"{where}: mask is too large")
            im.load()
            arr = np.array(im)
    except (binascii.Error, OSError, ValueError, Image.DecompressionBombError) as e:
        if isinstance(e, ForeignFileError):
            raise
        raise ForeignFileError(f"{where}: mask is not a base64 PNG ({e})") from e
    if arr.ndim == 3:
        arr = arr[..., 0] if arr.shape[2] < 4 else arr[..., 3]
    return arr.astype(bool)


def _shape_mask(shape: dict[str, Any], h: int, w: int, where: str) -> np.ndarray | None:
    kind = shape.get("shape_type") or "polygon"
    if kind in _SKIPPED:
        return None
    try:
        pts = check_points(np.array(shape.get("points"), dtype=np.float64).reshape(-1, 2), where)
    except (TypeError, ValueError) as e:
        raise ForeignFileError(f"{where}: points must be a list of finite [x, y] pairs ({e})") from e
    margin = 2.0 if kind != "circle" else float(max(w, h))
    check_inside(pts, w, h, where, margin)
    if kind == "polygon":
        if len(pts) < 3:
            raise ForeignFileError(f"{where}: a polygon needs at least 3 points")
        return rasterise_centre_polygon(pts, h, w)
    if kind == "mask":
        if len(pts) != 2:
            raise ForeignFileError(f"{where}: a mask shape needs 2 points (box corners)")
        crop = _decode_mask(shape.get("mask"), where)
        (x1, y1), (x2, y2) = pts.astype(int)
        if crop.shape != (y2 - y1 + 1, x2 - x1 + 1) or x1 < 0 or y1 < 0 or x2 >= w or y2 >= h:
            raise ForeignFileError(f"{where}: mask of {crop.shape[1]}x{crop.shape[0]} does not fit the box "
                                   f"({x1}, {y1})-({x2}, {y2}) in a {w}x{h} image")
        out = np.zeros((h, w), bool)
        out[y1 : y2 + 1, x1 : x2 + 1] = crop
        return out
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    if kind == "rectangle" and len(pts) == 2:
        (x0, y0), (x1, y1) = pts
        draw.rectangle(((min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))), outline=1, fill=1)
    elif kind == "circle" and len(pts) == 2:
        (cx, cy), (px, py) = pts
        d = math.hypot(cx - px, cy - py)
        draw.ellipse(((cx - d, cy - d), (cx + d, cy + d)), outline=1, fill=1)
    else:
        raise ForeignFileError(f"{where}: unsupported shape_type {kind!r} (or wrong number of points)")
    return np.array(img, dtype=bool)


def _image_key(doc: dict[str, Any], json_rel: PurePosixPath) -> str:
    image_path = doc.get("imagePath")
    if isinstance(image_path, str) and image_path.strip():
        name = PurePosixPath(image_path.replace("\\", "/")).name
        return str(json_rel.parent / name) if str(json_rel.parent) != "." else name
    return str(json_rel.with_suffix(""))


def import_labelme(root: str | os.PathLike[str]) -> tuple[list[ExportCategory], dict[str, np.ndarray]]:
    """Read every ``*.json`` below ``root`` (or the one file ``root``) that is a labelme file.

    Returns ``(categories, {image name: HxW label mask})``: the image name is the JSON's folder (relative to
    ``root``) joined with the base name of its ``imagePath``. Category ids are 1..N in order of first
    appearance (provisional: the CLI maps names to the project's classes). ``imageWidth``/``imageHeight``
    give the size. Malformed files raise :class:`ForeignFileError` naming the file.
    """
    base = Path(root)
    files = [base] if base.is_file() else sorted(base.rglob("*.json"))
    docs: list[tuple[Path, str, dict[str, Any]]] = []
    names: list[str] = []
    for f in files:
        doc = read_foreign_json(f)
        if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
            if base.is_file():
                raise ForeignFileError(f"{f}: not a labelme file (no 'shapes' list)")
            continue
        rel = PurePosixPath(f.name if base.is_file() else f.relative_to(base).as_posix())
        docs.append((f, _image_key(doc, rel), doc))
        for s in doc["shapes"]:
            label = s.get("label") if isinstance(s, dict) else None
            if not isinstance(label, str) or not label.strip():
                raise ForeignFileError(f"{f}: every shape needs a non-empty 'label'")
            if label != "_background_" and label not in names:
                names.append(label)
    cats = categories_from_names(names)
    ids = {c.name: int(c.id) for c in cats}
    dtype = label_dtype(len(cats))
    masks: dict[str, np.ndarray] = {}
    skipped: Counter[str] = Counter()
    for f, key, doc in docs:
        w, h = image_dims(doc.get("imageWidth"), doc.get("imageHeight"), str(f))
        if key in masks:
            raise ForeignFileError(f"{f}: a second labelme file for image {key!r}")
        out = np.zeros((h, w), dtype)
        for k, s in enumerate(doc["shapes"]):
            m = _shape_mask(s, h, w, f"{f}: shape #{k}")
            if m is None:
                skipped[str(s.get("shape_type"))] += 1
                continue
            out[m] = ids.get(s["label"], 0)
        masks[key] = out
    if skipped:
        logger.warning("%s: shapes that are not areas were skipped: %s", base, dict(skipped))
    logger.info("imported %d labelme files, %d labels from %s", len(masks), len(cats), base)
    return cats, masks
