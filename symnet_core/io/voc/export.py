"""Pascal VOC segmentation export: palette PNGs for classes and objects, the class list, the image set.

Layout under ``out_dir`` (the VOC2012 folder layout, as torchvision's ``VOCSegmentation`` and Datumaro read it)::

    labelmap.txt                              "# label:color_rgb:parts:actions", then "background:0,0,0::",
                                              then one "name:r,g,b::" line per class, in class-index order
    ImageSets/Segmentation/<image_set>.txt    one image id per line (relative path without extension)
    SegmentationClass/<id>.png                8-bit palette PNG, index = class index (0 background, 1..N)
    SegmentationObject/<id>.png               8-bit palette PNG, index = object number 1..K in that image
    JPEGImages/<id><original extension>       the image file as it is (copied; needs images_root)

Class index = 1 + position of the class in the project's class list; colours are the VOC colour map of the
index, so the files look like VOC's. Index 255 (VOC's "void" border) is never written. A palette PNG holds
at most 254 classes and 254 objects per image (ValueError beyond). Raster format: holes and 1-pixel objects
are kept exactly; an empty labelled image gets an all-zero PNG.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from symnet_core.io.common import ExportCategory, ExportImage, atomic_write_bytes, check_categories, default_color
from symnet_core.io.interop import FormatExportStats, InstanceExportOptions, copy_image, labelled_images
from symnet_core.io.polygons import class_instances

logger = logging.getLogger(__name__)

LABELMAP = "labelmap.txt"
MAX_INDEX = 254


def voc_palette() -> list[int]:
    """768-entry RGB palette: the VOC colour map for indices 0..254, (224, 224, 192) for 255 (void)."""
    pal: list[int] = []
    for i in range(255):
        pal.extend(default_color(i))
    return [*pal, 224, 224, 192]


def palette_png(indices: np.ndarray) -> bytes:
    """``HxW`` ``uint8`` indices as a palette (``P``) PNG with the VOC palette."""
    arr = np.ascontiguousarray(indices, dtype=np.uint8)
    im = Image.frombytes("P", (arr.shape[1], arr.shape[0]), arr.tobytes())
    im.putpalette(voc_palette())
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def labelmap_text(categories: list[ExportCategory]) -> str:
    lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"]
    for i, c in enumerate(categories, start=1):
        if ":" in c.name:
            raise ValueError(f"class name {c.name!r} contains ':', which VOC's labelmap.txt cannot hold")
        r, g, b = default_color(i)
        lines.append(f"{c.name}:{r},{g},{b}::")
    return "\n".join(lines) + "\n"


def write_voc(
    out_dir: str | os.PathLike[str],
    images: Iterable[ExportImage],
    categories: Iterable[ExportCategory],
    *,
    options: InstanceExportOptions | None = None,
    images_root: str | os.PathLike[str] | None = None,
    image_set: str = "default",
) -> FormatExportStats:
    """Write a Pascal VOC segmentation dataset; returns the stats. Objects (SegmentationObject) are
    8-connected components, or one per class per image with ``per_component=False``; ``min_area`` drops small
    components from both PNGs. Two images whose paths differ only by extension raise ValueError."""
    options = options or InstanceExportOptions()
    cats = check_categories(categories)
    if len(cats) > MAX_INDEX:
        raise ValueError(f"VOC palette PNGs hold at most {MAX_INDEX} classes, the project has {len(cats)}")
    index = {int(c.id): i for i, c in enumerate(cats, start=1)}
    out = Path(out_dir)
    stats = FormatExportStats(format="VOC")
    ids: list[str] = []
    seen: dict[str, str] = {}
    for img in labelled_images(images, cats, options, stats):
        vid = str(PurePosixPath(img.file_name).with_suffix(""))
        if vid.casefold() in seen:
            raise ValueError(f"{seen[vid.casefold()]!r} and {img.file_name!r} would share one VOC id; rename one")
        seen[vid.casefold()] = img.file_name
        ids.append(vid)
        cls = np.zeros((img.height, img.width), np.uint8)
        obj = np.zeros_like(cls)
        if img.label_mask is not None:
            dropped: list[int] = []
            instances = class_instances(img.label_mask, list(index), per_component=options.per_component,
                                        min_area=options.min_area, dropped=dropped)
            stats.add("components_below_min_area", sum(dropped))
            if len(instances) > MAX_INDEX:
                raise ValueError(f"{img.file_name}: {len(instances)} objects; a VOC SegmentationObject PNG holds "
                                 f"at most {MAX_INDEX} (export one object per class per image instead)")
            for k, (cid, comps) in enumerate(instances, start=1):
                for c in comps:
                    m = c.full(img.height, img.width)
                    cls[m] = index[cid]
                    obj[m] = k
                stats.add("objects")
                stats.add("raster_objects")
            if not instances:
                stats.add("empty_images")
        atomic_write_bytes(out / "SegmentationClass" / f"{vid}.png", palette_png(cls))
        atomic_write_bytes(out / "SegmentationObject" / f"{vid}.png", palette_png(obj))
        if options.copy_images:
            copy_image(images_root, img.file_name, out / "JPEGImages" / f"{vid}{PurePosixPath(img.file_name).suffix}",
                       stats)
    atomic_write_bytes(out / "ImageSets" / "Segmentation" / f"{image_set}.txt",
                       "".join(f"{v}\n" for v in ids).encode("utf-8"))
    atomic_write_bytes(out / LABELMAP, labelmap_text(cats).encode("utf-8"))
    stats.files += [str(out / LABELMAP)]
    logger.info("%s", stats.summary())
    return stats
