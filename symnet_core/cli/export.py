"""``symnet-annotate export`` (a project's masks as COCO JSON or PNG label masks) and ``validate`` (a COCO file)."""

from __future__ import annotations

import argparse
from pathlib import Path

from symnet_core.cli.common import (
    EXIT_OK,
    EXIT_PARTIAL,
    UsageError,
    open_project,
)


def register(sub) -> None:
    e = sub.add_parser("export", help="export a project's masks (COCO, PNG, YOLO, Pascal VOC, labelme, CVAT)")
    e.add_argument("--project", required=True)
    e.add_argument("--format", choices=("coco", "png", "yolo", "voc", "labelme", "cvat"), default="coco")
    e.add_argument("--polygons", action="store_true", help="polygons instead of RLE (holes fall back to RLE)")
    e.add_argument("--per-class", action="store_true", help="one COCO file per class (--out is a folder)")
    e.add_argument("--per-image", action="store_true", help="one annotation per class per image, not per component")
    e.add_argument("--min-area", type=int, default=0, help="drop components smaller than this (pixels)")
    e.add_argument("--only-accepted", action="store_true",
                   help="only human-verified images (accepted/edited/support); default: also unreviewed predictions")
    e.add_argument("--visualisations", action="store_true", help="PNG export: also colour previews")
    e.add_argument("--val-fraction", type=float, default=0.0,
                   help="YOLO: share of images in the val split (deterministic by file name and --seed)")
    e.add_argument("--seed", type=int, default=0, help="YOLO: seed of the train/val split")
    e.add_argument("--no-copy-images", action="store_true", help="YOLO/VOC/labelme/CVAT: do not copy the images")
    e.add_argument("--out", required=True)

    e.set_defaults(run=_export)

    v = sub.add_parser("validate", help="check a COCO file with pycocotools")
    v.add_argument("file")
    v.add_argument("--images", help="image root: check files exist and sizes match")

    v.set_defaults(run=_validate)


def _export(args: argparse.Namespace) -> int:
    from symnet_core.io import CocoExportOptions, PngExportOptions, validate_coco, write_coco, write_png_masks
    from symnet_core.io.coco.export import write_coco_per_class
    from symnet_core.io.project_masks import ProjectMasks, included, iter_project_images, project_categories

    which = "verified" if args.only_accepted else "all"
    out = Path(args.out)
    warnings: list[str] = []
    project = open_project(args.project, read_only=True)
    try:
        if not any(included(r.status, which) for r in project.images if not r.missing):
            kind = "human-verified" if args.only_accepted else "labelled"
            raise UsageError(f"nothing to export: no {kind} image")
        cats = project_categories(project)
        if args.format in ("yolo", "voc", "labelme", "cvat"):
            status = _export_instances(args, project, which, cats, out, warnings)
        elif args.format == "png":
            stats = write_png_masks(out, iter_project_images(project, which, warnings), cats,
                                    options=PngExportOptions(visualisations=args.visualisations))
            print(  # noqa: T201
                f"wrote {stats.masks_written} label masks ({stats.bit_depth}-bit) under {out} "
                f"(classes.json and labelmap.txt list the classes)"
            )
            status = EXIT_OK
        else:
            options = CocoExportOptions(
                polygons=args.polygons, per_component=not args.per_image, min_area=args.min_area
            )
            if args.per_class:
                targets = list(write_coco_per_class(out, iter_project_images(project, which, warnings), cats,
                                                    options=options).values())
                expected = None
            else:
                stats = write_coco(out, iter_project_images(project, which, warnings), cats, options=options)
                print(stats.summary())  # noqa: T201
                targets, expected = [str(out)], ProjectMasks(project, which)
            status = EXIT_OK
            for target in targets:
                report = validate_coco(target, images_dir=project.images_root, expected=expected,
                                       expected_min_area=args.min_area)
                print(f"{target}: {report.summary()}")  # noqa: T201
                status = status if report.ok else EXIT_PARTIAL
    finally:
        project.close(save=False)
    for w in dict.fromkeys(warnings):
        print(f"  warning: {w}")  # noqa: T201
    if any(": skipped, its mask cannot be used" in w for w in warnings):
        status = EXIT_PARTIAL  # some images could not be exported (named above)
    return status


def _export_instances(args: argparse.Namespace, project, which: str, cats, out: Path, warnings: list[str]) -> int:
    from symnet_core.io.interop import InstanceExportOptions
    from symnet_core.io.project_masks import iter_project_images
    from symnet_core.io.registry import write_format
    from symnet_core.io.yolo.export import YoloSplit

    options = InstanceExportOptions(per_component=not args.per_image, min_area=args.min_area,
                                    copy_images=not args.no_copy_images)
    extra = {"split": YoloSplit(args.val_fraction, args.seed)} if args.format == "yolo" else {}
    if args.format == "yolo" and args.per_image:
        print("note: --per-image does not apply to YOLO: every line is one connected object")  # noqa: T201
    try:
        stats = write_format(args.format, out, iter_project_images(project, which, warnings), cats,
                             options=options, images_root=project.images_root, **extra)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(f"{stats.summary()}; written under {out}")  # noqa: T201
    if args.min_area:
        return EXIT_OK  # the files intentionally differ from the masks
    same, total = _read_back(args.format, out, project, which, cats)
    print(f"read back with our {args.format} importer: {same}/{total} images identical to the project")  # noqa: T201
    return EXIT_OK if same == total else EXIT_PARTIAL


def _read_back(fmt: str, out: Path, project, which: str, cats) -> tuple[int, int]:
    """``(identical, exported)``: import the export again and compare each mask with the project's."""
    import numpy as np

    from symnet_core.io.interop import match_keys
    from symnet_core.io.project_masks import ProjectMasks
    from symnet_core.io.registry import import_format

    expected = ProjectMasks(project, which)
    got_cats, masks = import_format(fmt, out)
    by_name = {c.name: int(c.id) for c in cats}
    lut = np.zeros(max([int(c.id) for c in got_cats], default=0) + 1, np.int64)
    for c in got_cats:
        lut[int(c.id)] = by_name.get(c.name, 0)
    matched = match_keys(masks, list(expected))
    same = sum(1 for name, m in masks.items()
               if name in matched and np.array_equal(lut[m], expected[matched[name]]))
    return same, len(expected)


def _validate(args: argparse.Namespace) -> int:
    from symnet_core.io import validate_coco

    if not Path(args.file).is_file():
        raise UsageError(f"{args.file}: no such file")
    report = validate_coco(args.file, images_dir=args.images)
    print(report.summary())  # noqa: T201
    for e in report.errors:
        print(f"  error: {e}")  # noqa: T201
    for w in report.warnings:
        print(f"  warning: {w}")  # noqa: T201
    return EXIT_OK if report.ok else EXIT_PARTIAL


