"""CVAT for images 1.1 XML export: polygons, and ``<mask>`` RLE for objects with holes.

Layout: one file, ``annotations.xml``::

    <annotations><version>1.1</version>
      <meta><task><name/><size/><mode>annotation</mode><labels><label><name/><color/><type>any</type>...
      <image id="0" name="sub/img 1.jpg" width="W" height="H">
        <polygon label="cat" source="manual" occluded="0" points="x1,y1;x2,y2;..." z_order="0"/>
        <mask label="cat" source="manual" occluded="0" rle="c0, c1, ..." left="L" top="T" width="w" height="h"
              z_order="0"/>
      </image>

Coordinates: polygons are in the edge frame (pixel ``(x, y)`` covers ``[x, x+1) x [y, y+1)``), traced along
pixel edges so that pixel-centre rasterisers (pycocotools, as Datumaro uses) give back exactly the mask.
``<mask>`` is CVAT's own format: ``rle`` = run lengths over the ``width x height`` box at ``(left, top)`` in
**row-major** order, starting with a run of background (possibly 0).
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from symnet_core.io.common import ExportCategory, ExportImage, atomic_write_bytes, category_color, check_categories
from symnet_core.io.interop import FormatExportStats, InstanceExportOptions, copy_image, labelled_images
from symnet_core.io.polygons import Component, class_instances, component_rings

logger = logging.getLogger(__name__)

ANNOTATIONS_NAME = "annotations.xml"


def mask_to_cvat_rle(crop: np.ndarray) -> list[int]:
    """Run lengths of a ``HxW`` 0/1 array in row-major order, starting with a (possibly empty) run of 0s."""
    flat = np.asarray(crop, dtype=bool).ravel()
    change = np.flatnonzero(np.diff(flat.view(np.uint8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat.size and flat[0] else runs


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _mask_element(parent: ET.Element, label: str, comps: list[Component], group: int | None) -> None:
    x0 = min(c.x0 for c in comps)
    y0 = min(c.y0 for c in comps)
    x1 = max(c.x0 + c.crop.shape[1] for c in comps)
    y1 = max(c.y0 + c.crop.shape[0] for c in comps)
    box = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for c in comps:
        ch, cw = c.crop.shape
        box[c.y0 - y0 : c.y0 - y0 + ch, c.x0 - x0 : c.x0 - x0 + cw] |= c.crop
    attrs = {
        "label": label, "source": "manual", "occluded": "0",
        "rle": ", ".join(str(r) for r in mask_to_cvat_rle(box)),
        "left": str(x0), "top": str(y0), "width": str(x1 - x0), "height": str(y1 - y0), "z_order": "0",
    }
    if group is not None:
        attrs["group_id"] = str(group)
    ET.SubElement(parent, "mask", attrs)


def build_cvat_xml(
    images: Iterable[ExportImage],
    categories: Iterable[ExportCategory],
    *,
    options: InstanceExportOptions | None = None,
    task_name: str = "symnet-annotate export",
) -> tuple[bytes, FormatExportStats]:
    """The XML document (UTF-8 bytes) and the stats. One ``<image>`` per exported image (ids 0..N-1).

    Objects: one per 8-connected component (or per class per image with ``per_component=False``: its parts
    share a ``group_id``). Objects without holes are ``<polygon>``s; objects with a hole are one ``<mask>``.
    """
    options = options or InstanceExportOptions()
    cats = check_categories(categories)
    names = {int(c.id): c.name for c in cats}
    stats = FormatExportStats(format="CVAT")
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    task = ET.SubElement(ET.SubElement(root, "meta"), "task")
    ET.SubElement(task, "name").text = task_name
    size_el = ET.SubElement(task, "size")
    ET.SubElement(task, "mode").text = "annotation"
    labels = ET.SubElement(task, "labels")
    for c in cats:
        lab = ET.SubElement(labels, "label")
        ET.SubElement(lab, "name").text = c.name
        ET.SubElement(lab, "color").text = "#{:02x}{:02x}{:02x}".format(*category_color(c))
        ET.SubElement(lab, "type").text = "any"
        ET.SubElement(lab, "attributes")
    n = 0
    for img in labelled_images(images, cats, options, stats):
        el = ET.SubElement(root, "image", {"id": str(n), "name": img.file_name, "width": str(img.width),
                                            "height": str(img.height)})
        n += 1
        if img.label_mask is None:
            continue
        dropped: list[int] = []
        instances = class_instances(img.label_mask, list(names), per_component=options.per_component,
                                    min_area=options.min_area, dropped=dropped)
        stats.add("components_below_min_area", sum(dropped))
        if not instances:
            stats.add("empty_images")
        for k, (cid, comps) in enumerate(instances, start=1):
            group = None if options.per_component else k
            stats.add("objects")
            rings = [component_rings(c.crop) for c in comps]
            if any(holes for _, holes in rings):
                _mask_element(el, names[cid], comps, group)
                stats.add("raster_objects")
                stats.add("holes_kept_as_mask")
                continue
            for c, (outer, _) in zip(comps, rings, strict=True):
                assert outer is not None
                pts = ";".join(f"{_fmt(x + c.x0)},{_fmt(y + c.y0)}" for x, y in outer)
                attrs = {"label": names[cid], "source": "manual", "occluded": "0", "points": pts, "z_order": "0"}
                if group is not None:
                    attrs["group_id"] = str(group)
                ET.SubElement(el, "polygon", attrs)
                stats.add("polygons")
    size_el.text = str(n)
    ET.indent(root)
    data = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return data + b"\n", stats


def _remember(images: Iterable[ExportImage], names: list[str], only_labelled: bool) -> Iterable[ExportImage]:
    for img in images:
        if img.label_mask is not None or not only_labelled:
            names.append(img.file_name)
        yield img


def write_cvat(
    out_dir: str | os.PathLike[str],
    images: Iterable[ExportImage],
    categories: Iterable[ExportCategory],
    *,
    options: InstanceExportOptions | None = None,
    images_root: str | os.PathLike[str] | None = None,
) -> FormatExportStats:
    """Write ``out_dir/annotations.xml`` atomically; returns the stats (holes are never lost: ``<mask>``).
    With ``options.copy_images`` and ``images_root``, the images are copied to ``out_dir/images/<rel path>``
    (the layout of CVAT's "export with images", which Datumaro expects)."""
    options = options or InstanceExportOptions()
    written: list[str] = []
    data, stats = build_cvat_xml(_remember(images, written, options.only_labelled), categories, options=options)
    if options.copy_images and images_root is not None:
        for name in written:
            copy_image(images_root, name, Path(out_dir) / "images" / name, stats)
    path = Path(out_dir) / ANNOTATIONS_NAME
    atomic_write_bytes(path, data)
    stats.files.append(str(path))
    logger.info("%s", stats.summary())
    return stats
