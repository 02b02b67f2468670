"""Read Pascal VOC ``SegmentationClass`` PNGs into label masks (raster: exact).

Classes come from ``labelmap.txt`` (Datumaro's ``name:r,g,b:parts:actions`` lines, ``background`` first);
without one, the 20 VOC2012 classes are assumed. Palette PNGs are read by index, RGB PNGs by colour through
the labelmap. Index 255 / colour (224, 224, 192) is VOC's "void" border: read as background.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from symnet_core.io.common import ExportCategory, default_color
from symnet_core.io.images import list_images
from symnet_core.io.interop import ForeignFileError, categories_from_names, read_foreign_bytes
from symnet_core.io.voc.export import LABELMAP

logger = logging.getLogger(__name__)

VOC2012_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable", "dog",
    "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)
VOID = (224, 224, 192)
MAX_PIXELS = 1 << 28


def _labelmap(root: Path) -> tuple[list[str], list[tuple[int, int, int] | None]]:
    """Class names (background excluded) and their colours, in index order."""
    path = root / LABELMAP
    if not path.is_file():
        return list(VOC2012_CLASSES), [default_color(i) for i in range(1, 21)]
    try:
        lines = read_foreign_bytes(path).decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise ForeignFileError(f"{path}: not UTF-8 text") from e
    names: list[str] = []
    colours: list[tuple[int, int, int] | None] = []
    for ln, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, rest = line.partition(":")
        colour_txt = rest.split(":")[0].strip()
        colour = None
        if colour_txt:
            try:
                rgb = tuple(int(v) for v in colour_txt.split(","))
            except ValueError as e:
                raise ForeignFileError(f"{path}:{ln}: colour must be r,g,b") from e
            if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
                raise ForeignFileError(f"{path}:{ln}: colour must be three values 0..255")
            colour = (rgb[0], rgb[1], rgb[2])
        if name.strip().lower() == "background" and not names:
            continue
        names.append(name.strip())
        colours.append(colour)
    return names, colours


def _read_class_png(path: Path, n: int, colours: list[tuple[int, int, int] | None]) -> np.ndarray:
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_PIXELS:
                raise ForeignFileError(f"{path}: {im.width}x{im.height} is too large")
            im.load()
            mode = im.mode
            arr = np.array(im.convert("RGB") if mode not in ("P", "L") else im)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        if isinstance(e, ForeignFileError):
            raise
        raise ForeignFileError(f"{path}: not a readable PNG ({e})") from e
    if mode in ("P", "L"):
        idx = arr.astype(np.int64)
        idx[idx == 255] = 0
    else:
        code = (arr[..., 0].astype(np.int64) << 16) | (arr[..., 1].astype(np.int64) << 8) | arr[..., 2]
        lut = {(r << 16) | (g << 8) | b: i for i, c in enumerate(colours, start=1) if c is not None for r, g, b in [c]}
        lut[0] = 0
        lut[(VOID[0] << 16) | (VOID[1] << 8) | VOID[2]] = 0
        vals, inv = np.unique(code, return_inverse=True)
        unknown = [int(v) for v in vals if int(v) not in lut]
        if unknown:
            u = unknown[0]
            raise ForeignFileError(f"{path}: colour {(u >> 16, (u >> 8) & 255, u & 255)} is not in {LABELMAP}")
        idx = np.array([lut[int(v)] for v in vals], np.int64)[inv.reshape(code.shape)]
    if idx.size and int(idx.max()) > n:
        raise ForeignFileError(f"{path}: class index {int(idx.max())} but only {n} classes are listed")
    return idx.astype(np.uint8)


def import_voc(root: str | os.PathLike[str]) -> tuple[list[ExportCategory], dict[str, np.ndarray]]:
    """Read every ``SegmentationClass/**/*.png`` under ``root`` (the VOC2012-style folder).

    Returns ``(categories, {image name: HxW uint8 label mask})``; category ids are the class indices 1..N
    (provisional: the CLI maps names to the project's classes). The image name is the file in
    ``JPEGImages/`` with the same id when there is one, else the id (path without extension).
    Malformed files raise :class:`ForeignFileError` naming the file.
    """
    base = Path(root)
    seg = base / "SegmentationClass"
    if not seg.is_dir():
        raise ForeignFileError(f"{base}: no SegmentationClass/ folder (not a Pascal VOC segmentation dataset)")
    names, colours = _labelmap(base)
    cats = categories_from_names(names)
    jpeg: dict[str, str] = {}
    if (base / "JPEGImages").is_dir():
        for rel in list_images(base / "JPEGImages"):
            jpeg.setdefault(str(PurePosixPath(rel).with_suffix("")), rel)
    masks: dict[str, np.ndarray] = {}
    for png in sorted(seg.rglob("*.png")):
        vid = str(PurePosixPath(png.relative_to(seg).as_posix()).with_suffix(""))
        masks[jpeg.get(vid, vid)] = _read_class_png(png, len(cats), colours)
    logger.info("imported %d VOC masks, %d classes from %s", len(masks), len(cats), base)
    return cats, masks
