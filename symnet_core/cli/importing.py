"""``symnet-annotate import``: COCO annotations or PNG masks into a project (as annotations or supports)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from symnet_core.cli.common import (
    EXIT_OK,
    EXIT_PARTIAL,
)


def register(sub) -> None:
    i = sub.add_parser("import", help="import COCO, PNG, YOLO, Pascal VOC, labelme or CVAT annotations")
    i.add_argument("--project", required=True, help="images folder (a project is created if there is none)")
    src = i.add_mutually_exclusive_group(required=True)
    src.add_argument("--coco")
    src.add_argument("--masks")
    src.add_argument("--from", dest="source", help="file or folder of the --format given")
    i.add_argument("--format", choices=("coco", "png", "yolo", "voc", "labelme", "cvat"),
                   help="format of --from (class names are mapped to the project's classes)")
    i.add_argument("--class", dest="class_name", help="class name for binary PNG masks without classes.json")
    i.add_argument("--status", default="accepted", choices=("accepted", "edited", "predicted"))
    i.add_argument("--as-supports", action="store_true", help="also mark imported images as supports")
    i.set_defaults(run=_import)


def _import(args: argparse.Namespace) -> int:
    from symnet_core.io import import_coco, import_png_masks, load_png_classes
    from symnet_core.project import Project, ProjectError

    if args.source and not args.format:
        from symnet_core.cli.common import UsageError

        raise UsageError("--from needs --format (coco, png, yolo, voc, labelme or cvat)")
    root = Path(args.project)
    project = Project.open(root) if Project.exists(root) else Project.create(root)
    try:
        keys = [r.path for r in project.images if not r.missing]
        if args.source and args.format not in (None, "png"):
            cats, masks = _import_format(args, project, keys)
        elif args.coco:
            cats, masks = import_coco(args.coco)
        else:
            cats = load_png_classes(args.masks)
            masks = import_png_masks(args.masks or args.source, keys, strict=False)
        mapping = {}
        for cat in cats or []:
            existing = project.class_by_name(cat.name)
            mapping[cat.id] = (existing or project.add_class(cat.name)).id
        if not cats and masks:
            existing = project.class_by_name(args.class_name) if args.class_name else None
            mapping[1] = (existing or project.add_class(args.class_name or "object")).id
        imported, skipped = 0, []
        for key, mask in masks.items():
            if key not in keys:
                skipped.append(key)
                continue
            lut = np.zeros(int(mask.max()) + 1, dtype=np.uint16)
            for src, dst in mapping.items():
                if src < lut.size:
                    lut[src] = dst
            remapped = lut[mask].astype(np.uint16 if max(mapping.values(), default=0) > 255 else np.uint8)
            try:
                project.set_mask(key, remapped, status=args.status)
                if args.as_supports and remapped.any():
                    project.set_support(key)
            except (ProjectError, ValueError) as exc:
                skipped.append(f"{key} ({exc})")
                continue
            imported += 1
    finally:
        project.close()
    print(f"imported {imported} masks into {root}")  # noqa: T201
    for s in skipped:
        print(f"  skipped: {s}")  # noqa: T201
    return EXIT_PARTIAL if skipped else EXIT_OK


def _import_format(args: argparse.Namespace, project, keys: list[str]):
    """``(categories, {project key or unmatched name: mask})`` from ``--from`` in ``--format``."""
    from symnet_core.cli.common import UsageError
    from symnet_core.io.interop import match_keys
    from symnet_core.io.registry import import_format

    if not Path(args.source).exists():
        raise UsageError(f"{args.source}: no such file or folder")
    sizes = {}
    if args.format == "yolo":
        for k in keys:
            try:
                sizes[k] = project.image_size(k)
            except ValueError:
                continue
    try:
        cats, masks = import_format(args.format, args.source, sizes=sizes)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    matched = match_keys(masks, keys)
    return cats, {matched.get(k, k): m for k, m in masks.items()}


