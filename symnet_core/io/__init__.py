"""Export, import and validation of segmentation masks (COCO instances, PNG label masks; YOLO, Pascal VOC,
labelme and CVAT in their own subpackages, dispatched by :mod:`symnet_core.io.registry`). No Qt.

Everything here works on plain data (:class:`ExportImage`, :class:`ExportCategory`, numpy label masks), so
it does not depend on the project store. Formats and defaults: ``docs/export-formats.md``.
"""

from __future__ import annotations

from symnet_core.io.coco.export import (
    CocoExport,
    CocoExportOptions,
    CocoExportStats,
    build_coco,
    coco_to_json_bytes,
    component_polygon,
    export_coco,
    split_coco_by_category,
    write_coco,
    write_coco_per_class,
)
from symnet_core.io.coco.validate import (
    ValidationReport,
    oriented_image_size,
    self_consistency_ap,
    validate_coco,
    validate_coco_data,
)
from symnet_core.io.common import (
    MAX_CLASS_ID,
    ExportCategory,
    ExportImage,
    atomic_write_bytes,
    default_color,
)
from symnet_core.io.importers import import_coco, import_png_masks, load_png_classes, read_label_png
from symnet_core.io.png.export import PngExportOptions, PngExportStats, mask_relpath, write_png_masks

__all__ = [
    "MAX_CLASS_ID",
    "CocoExport",
    "CocoExportOptions",
    "CocoExportStats",
    "ExportCategory",
    "ExportImage",
    "PngExportOptions",
    "PngExportStats",
    "ValidationReport",
    "atomic_write_bytes",
    "build_coco",
    "coco_to_json_bytes",
    "component_polygon",
    "default_color",
    "export_coco",
    "import_coco",
    "import_png_masks",
    "load_png_classes",
    "mask_relpath",
    "oriented_image_size",
    "read_label_png",
    "self_consistency_ap",
    "split_coco_by_category",
    "validate_coco",
    "validate_coco_data",
    "write_coco",
    "write_coco_per_class",
    "write_png_masks",
]
