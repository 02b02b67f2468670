"""Read CVAT for images 1.1 XML (``<polygon>`` and ``<mask>`` shapes) into label masks.

Polygons are rasterised in the edge frame with pixel-centre sampling (pycocotools, as Datumaro reads CVAT);
``<mask>`` RLE is decoded exactly (row-major runs over the ``width x height`` box at ``left, top``, starting
with background). Boxes, polylines, points, ellipses, cuboids and skeletons are not masks: counted and logged.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np

from symnet_core.io.common import ExportCategory, check_relative_posix
from symnet_core.io.interop import (
    ForeignFileError,
    categories_from_names,
    check_inside,
    crop_to_content,
    finite_number,
    image_dims,
    label_dtype,
    read_foreign_bytes,
)
from symnet_core.io.polygons import check_points, rasterise_edge_rings

logger = logging.getLogger(__name__)

_NON_MASK = ("box", "polyline", "points", "ellipse", "cuboid", "skeleton", "tag")


def decode_cvat_rle(rle: str, width: int, height: int, where: str) -> np.ndarray:
    """``height x width`` bool array of a CVAT mask ``rle`` string (ForeignFileError when malformed)."""
    try:
        runs = [int(v) for v in rle.replace(" ", "").split(",") if v != ""]
    except ValueError as e:
        raise ForeignFileError(f"{where}: mask rle must be comma-separated integers") from e
    if any(r < 0 for r in runs) or sum(runs) != width * height:
        raise ForeignFileError(f"{where}: mask rle must be runs >= 0 summing to width*height = {width * height}, "
                               f"got {sum(runs)}")
    values = np.zeros(len(runs), bool)
    values[1::2] = True
    return np.repeat(values, runs).reshape(height, width)


def _labels(root: ET.Element, path: Path) -> list[str]:
    names: list[str] = []
    for lab in root.iterfind("./meta/*/labels/label"):
        name = (lab.findtext("name") or "").strip()
        if name and name not in names:
            names.append(name)
    if not names:  # no meta: take the labels the shapes use, in order of appearance
        for el in root.iter():
            name = el.get("label")
            if el.tag in ("polygon", "mask") and name and name not in names:
                names.append(name)
    return names


def import_cvat(path: str | os.PathLike[str]) -> tuple[list[ExportCategory], dict[str, np.ndarray]]:
    """Read a CVAT for images 1.1 file (or a folder holding ``annotations.xml``).

    Returns ``(categories, {image name: HxW label mask})``; category ids are 1..N in the order of the file's
    label list (provisional: the CLI maps names to the project's classes). Every ``<image>`` gets a mask
    (no shapes: all zeros). Overlaps: higher ``z_order`` wins, then the smaller object (as COCO import).
    Malformed files raise :class:`ForeignFileError` naming the file.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "annotations.xml"
    try:
        root = ET.fromstring(read_foreign_bytes(p))
    except ET.ParseError as e:
        raise ForeignFileError(f"{p}: not well-formed XML ({e})") from e
    if root.tag != "annotations":
        raise ForeignFileError(f"{p}: not a CVAT for images file (root element is <{root.tag}>)")
    try:
        cats = categories_from_names(_labels(root, p))
    except ValueError as e:
        raise ForeignFileError(f"{p}: {e}") from e
    ids = {c.name: int(c.id) for c in cats}
    dtype = label_dtype(len(cats))
    skipped: Counter[str] = Counter()
    masks: dict[str, np.ndarray] = {}
    for img in root.iterfind("image"):
        name = (img.get("name") or "").replace("\\", "/")
        where = f"{p}: image {name!r}"
        try:
            check_relative_posix(name)
        except ValueError as e:
            raise ForeignFileError(f"{p}: {e}") from e
        if name in masks:
            raise ForeignFileError(f"{where} is listed twice")
        w, h = image_dims(img.get("width"), img.get("height"), where)
        items: list[tuple[int, int, np.ndarray, int, int, int]] = []  # (z, -area, crop, x0, y0, class)
        for k, shape in enumerate(img):
            swhere = f"{where}, <{shape.tag}> #{k}"
            if shape.tag in _NON_MASK:
                skipped[shape.tag] += 1
                continue
            if shape.tag not in ("polygon", "mask"):
                continue
            label = shape.get("label")
            if label not in ids:
                raise ForeignFileError(f"{swhere}: label {label!r} is not in the file's label list")
            z = int(finite_number(shape.get("z_order", 0), f"{swhere}: z_order"))
            if shape.tag == "polygon":
                try:
                    pairs = [xy for xy in (shape.get("points") or "").split(";") if xy.strip()]
                    pts = [[finite_number(v, swhere) for v in xy.split(",")] for xy in pairs]
                    arr = check_inside(check_points(np.array(pts, dtype=np.float64).reshape(-1, 2), swhere), w, h,
                                       swhere)
                except ValueError as e:
                    raise ForeignFileError(f"{swhere}: bad points ({e})") from e
                if len(arr) < 3:
                    logger.warning("%s: polygon with fewer than 3 points dropped", swhere)
                    continue
                m, x0, y0 = crop_to_content(rasterise_edge_rings([arr], h, w))
            else:
                left, top = (int(finite_number(shape.get(a), f"{swhere}: {a}")) for a in ("left", "top"))
                mw, mh = image_dims(shape.get("width"), shape.get("height"), swhere)
                if left < 0 or top < 0 or left + mw > w or top + mh > h:
                    raise ForeignFileError(f"{swhere}: mask box {mw}x{mh} at ({left}, {top}) is outside the "
                                           f"{w}x{h} image")
                m, x0, y0 = decode_cvat_rle(shape.get("rle") or "", mw, mh, swhere), left, top
            items.append((z, -int(m.sum()), m, x0, y0, ids[label]))
        out = np.zeros((h, w), dtype)
        for _z, _a, m, x0, y0, cid in sorted(items, key=lambda t: (t[0], t[1])):
            out[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]][m] = cid
        masks[name] = out
    if skipped:
        logger.warning("%s: shapes that are not masks were skipped: %s", p, dict(skipped))
    logger.info("imported %d images, %d labels from %s", len(masks), len(cats), p)
    return cats, masks
