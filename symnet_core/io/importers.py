"""Import label masks from PNG mask folders and COCO instance files (pycocotools decodes all RLE/polygons).

Returned masks are ``HxW`` ``uint8`` (every id <= 255) or ``uint16`` class indices, 0 = background, in the
frame of the mask files / COCO ``width``/``height`` (i.e. the EXIF-rotated image frame when the source tool
applied EXIF; compare with the image sizes via ``sizes=`` to catch tools that did not).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from pycocotools import mask as mask_utils

from symnet_core.io.common import (
    MAX_CLASS_ID,
    ExportCategory,
    check_categories,
    check_relative_posix,
    mask_dtype_for,
    rle_string_counts,
)
from symnet_core.io.images import apply_pixel_limit, pixel_limit_error
from symnet_core.io.png.export import FORMAT_ID, LABELMAP_NAME, MANIFEST_NAME, MASKS_DIR

logger = logging.getLogger(__name__)

ClassMap = Mapping[Any, int]
"""``{grey/index value (int) or RGB colour (r, g, b): class id}``; see :func:`read_label_png`."""


# ------------------------------------------------------------------------------------------ PNG masks


def _finish(arr: np.ndarray, path: str) -> np.ndarray:
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) > MAX_CLASS_ID):
        raise ValueError(f"{path}: mask values must be within 0..{MAX_CLASS_ID}")
    return arr.astype(mask_dtype_for(int(arr.max()) if arr.size else 0), copy=False)


def _map_values(arr: np.ndarray, int_map: Mapping[int, int], binary_class: int, path: str) -> np.ndarray:
    vals, inv = np.unique(arr, return_inverse=True)
    present = {int(v) for v in vals}
    if 255 not in int_map and present <= {0, 255} and 255 in present:  # binary 0/255 mask
        return _finish(np.where(arr == 255, binary_class, 0), path)
    if not int_map:
        return _finish(arr, path)
    mapped = np.array([int_map.get(int(v), int(v)) for v in vals], dtype=np.int64)
    return _finish(mapped[inv.reshape(arr.shape)], path)


def _map_colours(rgb: np.ndarray, colour_map: Mapping[tuple[int, int, int], int], path: str) -> np.ndarray:
    code = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    vals, inv = np.unique(code, return_inverse=True)
    mapped = np.zeros(len(vals), np.int64)
    unknown = []
    for i, v in enumerate(vals):
        colour = (int(v) >> 16, (int(v) >> 8) & 255, int(v) & 255)
        if colour in colour_map:
            mapped[i] = colour_map[colour]
        elif colour != (0, 0, 0):
            unknown.append(colour)
    if unknown:
        raise ValueError(f"{path}: colours {unknown[:8]} are not in the colour -> class map")
    return _finish(mapped[inv.reshape(code.shape)], path)


def read_label_png(
    path: str | os.PathLike[str], class_map: ClassMap | None = None, *, binary_class: int = 1
) -> np.ndarray:
    """Read one mask image as an ``HxW`` ``uint8``/``uint16`` label mask (no EXIF rotation is applied).

    Rules:
        * mode ``1`` and greyscale masks whose values are exactly {0, 255} -> ``binary_class`` (default 1);
        * greyscale (8/16-bit) and palette (``P``) masks keep their values/indices; integer keys of
          ``class_map`` remap values (unmapped values stay as they are; map to 0 to drop, e.g. VOC's 255);
        * RGB(A) masks whose three channels are equal are read as greyscale; other colour masks need
          ``(r, g, b)`` keys in ``class_map`` (black = background; any other unmapped colour -> ValueError);
          palette masks are read by colour too when ``class_map`` has colour keys;
        * a fully transparent pixel (alpha 0) is background.
    """
    class_map = dict(class_map or {})
    int_map = {int(k): int(v) for k, v in class_map.items() if isinstance(k, (int, np.integer))}
    colour_map = {tuple(int(c) for c in k): int(v) for k, v in class_map.items() if isinstance(k, tuple)}
    for v in (*int_map.values(), *colour_map.values(), binary_class):
        if not 0 <= v <= MAX_CLASS_ID:
            raise ValueError(f"class id {v} in the class map is outside 0..{MAX_CLASS_ID}")
    where = os.fspath(path)
    apply_pixel_limit()
    try:
        im = Image.open(path)
    except (Image.DecompressionBombError, UnidentifiedImageError) as e:
        raise ValueError(f"{where}: not a readable mask image ({e})") from e
    with im:
        why = pixel_limit_error(*im.size)
        if why:
            raise ValueError(f"{where}: mask refused: {why}")
        im.load()
        if im.mode == "P" and colour_map:
            im = im.convert("RGBA")
        mode = im.mode
        if mode == "1":
            return _finish(np.where(np.array(im), binary_class, 0), where)
        if mode in ("L", "P", "I", "I;16", "I;16B", "I;16L", "I;16N"):
            return _map_values(np.array(im).astype(np.int64), int_map, binary_class, where)
        if mode in ("LA", "PA"):
            arr = np.array(im)
            grey = np.where(arr[..., 1] == 0, 0, arr[..., 0]).astype(np.int64)
            return _map_values(grey, int_map, binary_class, where)
        if mode not in ("RGB", "RGBA"):
            raise ValueError(f"{where}: unsupported mask image mode {mode!r}")
        arr = np.array(im)
    rgb = arr[..., :3]
    if mode == "RGBA":
        rgb = np.where((arr[..., 3] == 0)[..., None], 0, rgb)
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]) and not colour_map:
        return _map_values(rgb[..., 0].astype(np.int64), int_map, binary_class, where)
    if not colour_map:
        raise ValueError(f"{where}: colour (RGB) mask needs a class_map with (r, g, b) -> class id entries")
    return _map_colours(rgb, colour_map, where)


def _manifest_masks(root: Path) -> dict[str, Path]:
    try:
        manifest = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_ID:
        return {}
    return {e["file_name"]: root / e["mask"] for e in manifest.get("images", []) if "mask" in e}


def _png_stem_index(roots: list[Path]) -> dict[str, list[Path]]:
    """``{file stem: [mask paths]}`` of every ``*.png`` below ``roots`` (hidden files skipped)."""
    by_stem: dict[str, list[Path]] = defaultdict(list)
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                if not name.lower().endswith(".png") or name.startswith("."):
                    continue
                p = Path(dirpath) / name
                if p not in by_stem[p.stem]:
                    by_stem[p.stem].append(p)
    return by_stem


def load_png_classes(mask_dir: str | os.PathLike[str]) -> list[ExportCategory]:
    """Class table of a folder written by :func:`~symnet_core.io.png.export.write_png_masks`.

    Reads ``classes.json`` (or ``labelmap.txt``); returns ``[]`` when neither exists.
    """
    root = Path(mask_dir)
    try:
        manifest = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
        return [ExportCategory(int(c["id"]), str(c["name"]), tuple(c["color"])) for c in manifest["classes"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        lines = (root / LABELMAP_NAME).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    cats = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        cid, name, colour = line.split("\t")
        if int(cid) != 0:
            r, g, b = (int(v) for v in colour.split(","))
            cats.append(ExportCategory(int(cid), name, (r, g, b)))
    return cats


def import_png_masks(
    mask_dir: str | os.PathLike[str],
    image_files: Iterable[str],
    class_map: ClassMap | None = None,
    *,
    sizes: Mapping[str, tuple[int, int]] | None = None,
    binary_class: int = 1,
    strict: bool = True,
) -> dict[str, np.ndarray]:
    """Find and read the mask of each image in ``image_files``; returns ``{file_name: HxW label mask}``.

    Matching, first hit wins: (1) the ``classes.json`` written by our PNG export; (2) the same relative path
    with ``.png`` replacing the extension, or appended (``a/img.jpg.png``), under ``mask_dir`` or
    ``mask_dir/masks``; (3) a unique file stem anywhere under ``mask_dir`` (only when no other image has that
    stem). Images without a mask are absent from the result (logged).

    Args:
        mask_dir: folder of mask PNGs.
        image_files: image file names relative to the image root (POSIX).
        class_map: see :func:`read_label_png`.
        sizes: optional ``{file_name: (width, height)}`` after EXIF rotation; a mask of another size is an
            error (with a hint when width and height are swapped: mask made on the unrotated image).
        binary_class: class id given to 0/255 binary masks.
        strict: raise ValueError on the first unreadable or mismatching mask; else log and skip it.
    """
    root = Path(mask_dir)
    files = [check_relative_posix(f) for f in image_files]
    manifest = _manifest_masks(root)
    roots = [root] + ([root / MASKS_DIR] if (root / MASKS_DIR).is_dir() else [])
    by_stem = _png_stem_index(roots)
    stem_owners: dict[str, int] = defaultdict(int)
    for f in files:
        stem_owners[PurePosixPath(f).stem] += 1

    def resolve(fn: str) -> Path | str:
        """The mask path, or "missing" / "ambiguous"."""
        path = manifest.get(fn)
        if path is not None and path.is_file():
            return path
        pfn = PurePosixPath(fn)
        for rel in (str(pfn.with_suffix(".png")), f"{fn}.png"):
            for r in roots:
                if (r / rel).is_file():
                    return r / rel
        hits = by_stem.get(pfn.stem, [])
        if len(hits) == 1 and stem_owners[pfn.stem] == 1:
            return hits[0]
        return "ambiguous" if hits else "missing"

    out: dict[str, np.ndarray] = {}
    missing = ambiguous = 0
    for fn in files:
        path = resolve(fn)
        if path == "missing":
            missing += 1
            continue
        if path == "ambiguous":
            ambiguous += 1
            logger.warning("%s: several masks share its file stem; none imported", fn)
            continue
        try:
            mask = read_label_png(path, class_map, binary_class=binary_class)
            if sizes is not None and fn in sizes:
                w, h = sizes[fn]
                if mask.shape != (h, w):
                    hint = " (swapped: was the mask made on the unrotated image? EXIF)" if mask.shape == (w, h) else ""
                    raise ValueError(f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but image {fn} is {w}x{h}{hint}")
        except (OSError, ValueError) as e:
            if strict:
                raise ValueError(f"{fn}: {e}") from e
            logger.warning("skipping mask for %s: %s", fn, e)
            continue
        out[fn] = mask
    logger.info(
        "imported %d PNG masks from %s (%d images without mask, %d ambiguous)", len(out), root, missing, ambiguous
    )
    return out


# ----------------------------------------------------------------------------------------------- COCO


def _annotation_rle(ann: Mapping[str, Any], h: int, w: int, where: str) -> dict[str, Any] | None:
    segm = ann.get("segmentation")
    if isinstance(segm, list):
        rings = [r for r in segm if isinstance(r, list) and len(r) >= 6 and len(r) % 2 == 0]
        if len(rings) < len(segm):
            logger.warning("%s: dropped %d polygon(s) with fewer than 3 points", where, len(segm) - len(rings))
        if not rings:
            return None
        for ring in rings:  # pycocotools crashes (segfault) on NaN or huge coordinates
            if not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in ring
            ) or min(ring) < -1 or max(ring[0::2]) > w + 1 or max(ring[1::2]) > h + 1:
                raise ValueError(f"{where}: polygon coordinates must be finite numbers inside the {w}x{h} image")
        return mask_utils.merge(mask_utils.frPyObjects(rings, h, w))
    if not isinstance(segm, dict) or "counts" not in segm or "size" not in segm:
        raise ValueError(f"{where}: unsupported segmentation {str(segm)[:60]!r}")
    if list(segm["size"]) != [h, w]:
        raise ValueError(f"{where}: RLE size {segm['size']} does not match the image height/width [{h}, {w}]")
    counts = segm["counts"]
    if isinstance(counts, list):
        if sum(counts) != h * w or any(not isinstance(c, int) or c < 0 for c in counts):
            raise ValueError(f"{where}: uncompressed RLE counts must be ints >= 0 summing to {h * w}")
        return mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    if isinstance(counts, (str, bytes)):
        try:
            total = sum(rle_string_counts(counts))
        except (UnicodeEncodeError, ValueError) as e:
            raise ValueError(f"{where}: malformed RLE counts ({e})") from e
        if total != h * w:
            raise ValueError(f"{where}: RLE counts sum to {total} pixels, not height*width = {h * w}")
        return {"size": [h, w], "counts": counts}
    raise ValueError(f"{where}: RLE counts must be a string or a list")


def _paint(shape: tuple[int, int], dtype: np.dtype, items: list[tuple[dict[str, Any], int, str]]) -> np.ndarray:
    """Paint decoded annotations, largest area first, so smaller (more specific) ones end on top."""
    out = np.zeros(shape, dtype=dtype)
    areas = [float(mask_utils.area(rle)) for rle, _, _ in items]
    order = sorted(range(len(items)), key=lambda i: -areas[i])  # stable: equal areas keep file order
    for i in order:
        rle, cid, where = items[i]
        try:
            m = mask_utils.decode(rle)
        except Exception as e:
            raise ValueError(f"{where}: segmentation does not decode ({e})") from e
        out[m.astype(bool)] = cid
    return out


def import_coco(
    json_path: str | os.PathLike[str], *, include_crowd: bool = True
) -> tuple[list[ExportCategory], dict[str, np.ndarray]]:
    """Read a COCO instances file into label masks.

    Returns ``(categories, {file_name: HxW label mask})``. Category ids are kept as they are (the file's ids
    become the project's ids; a category with id <= 0, e.g. labelme's ``_background_``, is dropped together
    with its annotations). Every image gets a mask (images without annotations: all zeros). Masks are
    ``uint8`` if the largest category id is <= 255, else ``uint16``.

    Overlaps: annotations are painted largest area first, so where they overlap the **smaller** one wins (the
    most specific object stays visible); equal areas: the later annotation in the file wins.
    Crowd annotations (``iscrowd: 1``) are painted too unless ``include_crowd=False``.
    Polygons with fewer than 3 points are dropped with a warning (as detectron2 does). Structural problems
    (unknown image/category id, size mismatch, undecodable RLE, bad file names) raise ValueError.
    """
    with open(json_path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "categories")):
        raise ValueError(f"{os.fspath(json_path)}: not a COCO instances file (images/categories missing)")
    cats: list[ExportCategory] = []
    dropped_cats: set[Any] = set()
    for c in data["categories"]:
        cid = c.get("id")
        if isinstance(cid, int) and cid <= 0:
            logger.warning("dropping COCO category %r (id %s): ids <= 0 are background", c.get("name"), cid)
            dropped_cats.add(cid)
            continue
        cats.append(ExportCategory(cid, str(c.get("name") or f"class_{cid}")))
    cats = check_categories(cats)
    cat_ids = {c.id for c in cats}
    dtype = mask_dtype_for(max(cat_ids, default=0))

    images: dict[Any, tuple[str, int, int]] = {}
    names: set[str] = set()
    for img in data["images"]:
        fn = str(img.get("file_name", "")).replace("\\", "/")
        try:
            check_relative_posix(fn)
        except ValueError as e:
            raise ValueError(f"image id {img.get('id')}: {e}") from e
        if fn in names:
            raise ValueError(f"duplicate file_name {fn!r} in {os.fspath(json_path)}")
        names.add(fn)
        h, w = int(img["height"]), int(img["width"])
        why = pixel_limit_error(w, h)
        if why:
            raise ValueError(f"image id {img.get('id')} ({fn}): {why}")
        images[img.get("id")] = (fn, h, w)

    per_image: dict[Any, list[tuple[dict[str, Any], int, str]]] = defaultdict(list)
    for ann in data.get("annotations", []):
        where = f"annotation {ann.get('id')}"
        if ann.get("image_id") not in images:
            raise ValueError(f"{where}: image_id {ann.get('image_id')!r} is not in images")
        cid = ann.get("category_id")
        if cid in dropped_cats or (ann.get("iscrowd") and not include_crowd):
            continue
        if cid not in cat_ids:
            raise ValueError(f"{where}: category_id {cid!r} is not in categories")
        fn, h, w = images[ann["image_id"]]
        rle = _annotation_rle(ann, h, w, f"{where} ({fn})")
        if rle is not None:
            per_image[ann["image_id"]].append((rle, int(cid), f"{where} ({fn})"))

    masks = {fn: _paint((h, w), dtype, per_image.get(iid, [])) for iid, (fn, h, w) in images.items()}
    logger.info("imported %d images, %d categories from %s", len(masks), len(cats), os.fspath(json_path))
    return cats, masks
