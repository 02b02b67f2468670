"""One entry point per direction for the instance formats YOLO, Pascal VOC, labelme and CVAT (COCO and PNG
keep their own functions). Used by the CLI (``--format``) and the app's export task."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from symnet_core.io.common import ExportCategory, ExportImage
from symnet_core.io.interop import FormatExportStats, InstanceExportOptions

__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "INSTANCE_FORMATS", "import_format", "write_format"]

INSTANCE_FORMATS = ("yolo", "voc", "labelme", "cvat")
EXPORT_FORMATS = ("coco", "png", *INSTANCE_FORMATS)
IMPORT_FORMATS = ("coco", "png", *INSTANCE_FORMATS)


def write_format(
    fmt: str,
    out_dir: str | os.PathLike[str],
    images: Iterable[ExportImage],
    categories: Iterable[ExportCategory],
    *,
    options: InstanceExportOptions | None = None,
    images_root: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> FormatExportStats:
    """Export to one of :data:`INSTANCE_FORMATS` under ``out_dir``; ``kwargs`` are format-specific
    (``split=YoloSplit(...)`` for YOLO, ``image_set=`` for VOC)."""
    if fmt == "yolo":
        from symnet_core.io.yolo.export import write_yolo

        return write_yolo(out_dir, images, categories, options=options, images_root=images_root, **kwargs)
    if fmt == "voc":
        from symnet_core.io.voc.export import write_voc

        return write_voc(out_dir, images, categories, options=options, images_root=images_root, **kwargs)
    if fmt == "labelme":
        from symnet_core.io.labelme.export import write_labelme

        return write_labelme(out_dir, images, categories, options=options, images_root=images_root)
    if fmt == "cvat":
        from symnet_core.io.cvat.export import write_cvat

        return write_cvat(out_dir, images, categories, options=options, images_root=images_root)
    raise ValueError(f"unknown format {fmt!r}; one of {INSTANCE_FORMATS}")


def import_format(
    fmt: str, path: str | os.PathLike[str], *, sizes: Mapping[str, tuple[int, int]] | None = None
) -> tuple[list[ExportCategory], dict[str, np.ndarray]]:
    """``(categories, {image name: HxW label mask})`` from a file or folder of format ``fmt``
    (:data:`IMPORT_FORMATS` except ``png``, whose importer needs the project's file names)."""
    if fmt == "coco":
        from symnet_core.io.importers import import_coco

        return import_coco(path)
    if fmt == "yolo":
        from symnet_core.io.yolo.importer import import_yolo

        return import_yolo(path, sizes=sizes)
    if fmt == "voc":
        from symnet_core.io.voc.importer import import_voc

        return import_voc(path)
    if fmt == "labelme":
        from symnet_core.io.labelme.importer import import_labelme

        return import_labelme(path)
    if fmt == "cvat":
        from symnet_core.io.cvat.importer import import_cvat

        return import_cvat(path)
    raise ValueError(f"unknown import format {fmt!r}")
