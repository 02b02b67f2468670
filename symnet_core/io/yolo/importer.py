"""Read a YOLO segmentation dataset (ultralytics layout) into label masks.

Each ``labels/**/<stem>.txt`` line ``<class index> x1 y1 ... xn yn`` (normalised) is scaled by its image's
width/height (EXIF-rotated, read from ``images/**/<stem>.*`` or from ``sizes``) and rasterised as ultralytics
does (``cv2.fillPoly`` of the int32 pixel coordinates, outline painted; see :func:`rasterise_fillpoly`).
Detection lines (``class cx cy w h``) are not masks: skipped and counted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import numpy as np
import yaml

from symnet_core.io.common import ExportCategory
from symnet_core.io.images import list_images, read_image_size
from symnet_core.io.interop import (
    ForeignFileError,
    Piece,
    categories_from_names,
    label_dtype,
    match_keys,
    paint,
    read_foreign_bytes,
)
from symnet_core.io.polygons import rasterise_fillpoly
from symnet_core.io.yolo.export import DATA_YAML

logger = logging.getLogger(__name__)

NORMALISED_MARGIN = 0.01
"""Normalised coordinates outside [-0.01, 1.01] are an error (ultralytics' own check)."""


def _names(root: Path) -> list[str]:
    path = root / DATA_YAML
    if not path.is_file():
        alts = sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml"))
        path = alts[0] if alts else root / "classes.txt"
    if path.suffix == ".txt":
        try:
            return [ln.strip() for ln in read_foreign_bytes(path).decode("utf-8").splitlines() if ln.strip()]
        except UnicodeDecodeError as e:
            raise ForeignFileError(f"{path}: not UTF-8 text") from e
    try:
        data = yaml.safe_load(read_foreign_bytes(path).decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        raise ForeignFileError(f"{path}: not a readable YAML file ({str(e).splitlines()[0][:100]})") from e
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, dict):
        try:
            keys = sorted(int(k) for k in names)
        except (TypeError, ValueError) as e:
            raise ForeignFileError(f"{path}: names keys must be class indices 0..N-1") from e
        if keys != list(range(len(keys))):
            raise ForeignFileError(f"{path}: names keys must be 0..N-1 without gaps")
        return [str(names[k] if k in names else names[str(k)]) for k in keys]
    if isinstance(names, list) and all(isinstance(n, (str, int)) for n in names):
        return [str(n) for n in names]
    raise ForeignFileError(f"{path}: no 'names' list or mapping")


def _parse(text: str, n_classes: int, w: int, h: int, where: str) -> tuple[list[Piece], int]:
    """``([(bool crop, x0, y0, class id)], detection lines skipped)``; ForeignFileError on bad lines."""
    items: list[Piece] = []
    boxes = 0
    for ln, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        lw = f"{where}:{ln}"
        try:
            cls = int(parts[0])
            coords = np.array([float(v) for v in parts[1:]], np.float64)
        except ValueError as e:
            raise ForeignFileError(f"{lw}: expected '<class index> x1 y1 x2 y2 ...' numbers") from e
        if not 0 <= cls < n_classes:
            raise ForeignFileError(f"{lw}: class index {cls} is not in 0..{n_classes - 1}")
        if len(coords) == 4:
            boxes += 1
            continue
        if len(coords) < 6 or len(coords) % 2:
            raise ForeignFileError(f"{lw}: a polygon needs an even number (>= 6) of coordinates, got {len(coords)}")
        if (not np.isfinite(coords).all() or coords.min() < -NORMALISED_MARGIN
                or coords.max() > 1 + NORMALISED_MARGIN):
            raise ForeignFileError(f"{lw}: coordinates must be finite and normalised (0..1)")
        ring = coords.reshape(-1, 2) * (w, h)
        x0 = max(0, int(np.floor(ring[:, 0].min())) - 1)
        y0 = max(0, int(np.floor(ring[:, 1].min())) - 1)
        x1 = min(w, int(np.ceil(ring[:, 0].max())) + 2)
        y1 = min(h, int(np.ceil(ring[:, 1].max())) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        crop = rasterise_fillpoly([ring - (x0, y0)], y1 - y0, x1 - x0)
        items.append((crop, x0, y0, cls + 1))
    return items, boxes


def import_yolo(
    root: str | os.PathLike[str], *, sizes: Mapping[str, tuple[int, int]] | None = None
) -> tuple[list[ExportCategory], dict[str, np.ndarray]]:
    """Read the dataset at ``root`` (the folder of ``data.yaml``, with ``labels/`` and ``images/``).

    Returns ``(categories, {image path relative to images/: HxW label mask})``. Category ids are the class
    index + 1 (provisional: the CLI maps names to the project's classes). An empty ``.txt`` gives an
    all-zero mask. The image size comes from the image file (EXIF-rotated), else from ``sizes``
    (``{project file name: (width, height)}``, matched by path/stem); a label without either is an error.
    Overlaps: the smaller object wins. Malformed files raise :class:`ForeignFileError` naming the file.
    """
    base = Path(root)
    if not (base / "labels").is_dir():
        raise ForeignFileError(f"{base}: no labels/ folder (not a YOLO dataset)")
    cats = categories_from_names(_names(base))
    dtype = label_dtype(len(cats))
    images_dir = base / "images"
    by_noext: dict[str, str] = {}
    if images_dir.is_dir():
        for rel in list_images(images_dir):
            by_noext.setdefault(str(PurePosixPath(rel).with_suffix("")), rel)
    masks: dict[str, np.ndarray] = {}
    boxes = 0
    for txt in sorted((base / "labels").rglob("*.txt")):
        rel_noext = str(PurePosixPath(txt.relative_to(base / "labels").as_posix()).with_suffix(""))
        image_rel = by_noext.get(rel_noext)
        where = str(txt)
        if image_rel is not None:
            try:
                w, h = read_image_size(images_dir / image_rel)
            except (OSError, ValueError) as e:
                raise ForeignFileError(f"{images_dir / image_rel}: cannot read the image size ({e})") from e
            key = image_rel
        else:
            hit = match_keys([rel_noext], sizes or {}).get(rel_noext)
            if hit is None or sizes is None:
                raise ForeignFileError(f"{where}: no image for this label file (looked in {images_dir})")
            w, h = sizes[hit]
            key = hit
        try:
            text = read_foreign_bytes(txt).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ForeignFileError(f"{where}: not UTF-8 text") from e
        items, nb = _parse(text, len(cats), w, h, where)
        boxes += nb
        masks[key] = paint((h, w), dtype, items)
    if boxes:
        logger.warning("%s: %d detection (box) lines skipped: they are not masks", base, boxes)
    logger.info("imported %d label files, %d classes from %s", len(masks), len(cats), base)
    return cats, masks
