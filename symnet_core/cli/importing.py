"""``symnet-annotate import``: COCO annotations or PNG masks into a project (as annotations or supports)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from symnet_core.cli.common import (
    EXIT_OK,
    EXIT_PARTIAL,
    UsageError,
    close_project,
)
from symnet_core.project.errors import ProjectWriteError


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


def _open_or_create(root: Path):
    from symnet_core.project import Project

    if not root.is_dir():
        raise UsageError(f"--project {root}: not a folder")
    return Project.open(root) if Project.exists(root) else Project.create(root)


def _read_coco(path: str):
    """Validate, then decode. Every problem of the file is one UsageError line (exit 2): a file
    from someone else must never crash the import (huge or NaN polygon coordinates segfaulted
    pycocotools before validation came first)."""
    from symnet_core.io import import_coco

    _validate_coco(path)
    try:
        return import_coco(path)
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise UsageError(f"{path}: not imported: {exc}") from exc


def _validate_coco(path: str) -> None:
    """Raise UsageError (one line) unless the COCO file at ``path`` decodes safely."""
    import json

    from symnet_core.io.coco.validate import validate_coco_data

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: cannot be read as JSON ({exc}); check the file or export it again") from exc
    try:
        report = validate_coco_data(data, check_ap=False)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
        raise UsageError(f"{path}: not imported, invalid COCO file ({type(exc).__name__}: {exc})") from exc
    fatal = [e for e in report.errors if not _cosmetic(e)]
    if fatal:
        more = f" (and {len(fatal) - 1} more: run `symnet-annotate validate {path}`)" if len(fatal) > 1 else ""
        raise UsageError(f"{path}: not imported, invalid COCO file: {fatal[0]}{more}")


def _cosmetic(error: str) -> bool:
    """Validation errors that do not change the decoded masks (area/bbox fields disagreeing with the
    segmentation: many tools write them loosely) do not block an import."""
    return any(k in error for k in (": area ", ": bbox ", "area must be", "bbox must be", "self-consistency"))


def _class_mapping(project, cats, class_name: str | None, have_masks: bool) -> dict[int, int]:
    """``{file category id: project class id}``: a class of the same name is reused; otherwise the
    file's id is kept when it is free in the project, else the next free id is given (printed)."""
    mapping = {}
    for cat in sorted(cats or [], key=lambda c: c.id):
        existing = project.class_by_name(cat.name)
        if existing is None:
            try:
                existing = project.add_class(cat.name, class_id=cat.id)
            except ValueError:
                existing = project.add_class(cat.name)
        if existing.id != cat.id:
            print(f"  category {cat.id} '{cat.name}' -> project class {existing.id}")  # noqa: T201
        mapping[cat.id] = existing.id
    if not cats and have_masks:
        existing = project.class_by_name(class_name) if class_name else None
        mapping[1] = (existing or project.add_class(class_name or "object")).id
    return mapping


def _import(args: argparse.Namespace) -> int:
    from symnet_core.io import import_png_masks, load_png_classes
    from symnet_core.project import ProjectError

    if args.source and not args.format:
        raise UsageError("--from needs --format (coco, png, yolo, voc, labelme or cvat)")
    root = Path(args.project)
    masks, png_dir = None, None
    if args.coco:
        cats, masks = _read_coco(args.coco)  # before opening: a bad file changes nothing
    elif args.source and args.format == "coco":
        _validate_coco(args.source)  # then read by the format registry below
    elif args.masks or args.format == "png":
        png_dir = args.masks or args.source
        if not Path(png_dir).is_dir():
            raise UsageError(f"{png_dir}: not a folder of PNG masks")
        cats = load_png_classes(png_dir)
    project = _open_or_create(root)
    try:
        keys = [r.path for r in project.images if not r.missing]
        if args.source and args.format not in (None, "png"):
            cats, masks = _import_format(args, project, keys)
        elif masks is None:
            masks = import_png_masks(png_dir, keys, strict=False)
        mapping = _class_mapping(project, cats, args.class_name, bool(masks))
        known = set(keys)
        imported, skipped = 0, []
        for key, mask in masks.items():
            if key not in known:
                skipped.append(f"{key} (no such image in the project)")
                continue
            lut = np.zeros(int(mask.max(initial=0)) + 1, dtype=np.uint16)
            for src, dst in mapping.items():
                if src < lut.size:
                    lut[src] = dst
            remapped = lut[mask].astype(np.uint16 if max(mapping.values(), default=0) > 255 else np.uint8)
            try:
                project.set_mask(key, remapped, status=args.status)
                if args.as_supports and remapped.any():
                    project.set_support(key)
            except ProjectWriteError:
                raise  # disk full...: stop, everything imported so far is saved (exit 2)
            except (ProjectError, ValueError) as exc:
                skipped.append(f"{key} ({exc})")
                continue
            imported += 1
    finally:
        close_project(project)
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


