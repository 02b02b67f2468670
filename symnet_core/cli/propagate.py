"""``symnet-annotate propagate``: a project's supports to its other images, or folder to folder."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

import numpy as np

from symnet_core.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    ProgressLine,
    UsageError,
    add_model_args,
    close_project,
    interrupt_sets,
    load_model,
    log,
    open_project,
)
from symnet_core.cli.propagate_distributed import (
    add_distributed_args,
    folder_targets,
    print_report,
    run_folders_ray,
    run_project,
    uses_distributed,
)


def register(sub) -> None:
    p = sub.add_parser("propagate", help="propagate support masks (project, or folder to folder)")
    p.add_argument("--project", help="images folder (or its .symnet folder) of a project")
    p.add_argument("--scope", choices=("unlabelled", "selected", "all"), default="unlabelled")
    p.add_argument("--select", action="append", metavar="KEY", help="image key for --scope selected (repeat)")
    p.add_argument("--supports", help="folder-to-folder: support images")
    p.add_argument("--masks", help="folder-to-folder: support masks (same relative names, .png; nonzero = object)")
    p.add_argument("--images", help="folder-to-folder: images to label")
    p.add_argument("--class", dest="class_name", help="folder-to-folder: class name (text prompt)")
    p.add_argument("--out", help="folder-to-folder: output folder for 0/255 PNG masks")
    p.add_argument("--loader-workers", type=int, default=0,
                   help="--project: threads decoding the next batches while the model runs (GPU: try 4)")
    add_model_args(p)
    add_distributed_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    folder_args = (args.supports, args.masks, args.images, args.out, args.class_name)
    if args.project and any(folder_args):
        raise UsageError("use either --project or --supports/--masks/--images/--class/--out")
    if args.project:
        return run_project(args) if uses_distributed(args) else _propagate_project(args)
    if args.merge_shards:
        raise UsageError("--merge-shards needs --project")
    if not all(folder_args):
        raise UsageError("propagate needs --project DIR, or all of --supports --masks --images --class --out")
    return _propagate_folders(args)


def _propagate_project(args: argparse.Namespace) -> int:
    from symnet_core.workflows.propagation import PropagationError, propagate_project

    cancel = threading.Event()
    project = open_project(args.project)
    try:
        loaded = load_model(args, project.settings, [c.name for c in project.classes])
        progress = ProgressLine("propagate", quiet=args.quiet)
        with interrupt_sets(cancel):
            try:
                report = propagate_project(
                    project, loaded.new_predictor, scope=args.scope, selected=args.select or None,
                    progress=progress, cancel=cancel,
                    max_side=args.max_side, batch_size=args.batch_size, loader_workers=args.loader_workers,
                )
            except PropagationError as exc:
                raise UsageError(str(exc)) from exc
    finally:
        close_project(project)
    return print_report(report)


def _mask_for(masks_dir: Path, image_rel: str) -> Path | None:
    stem = Path(image_rel).with_suffix("")
    for ext in (".png", ".PNG", ".tif", ".tiff", ".bmp"):
        candidate = masks_dir / (str(stem) + ext)
        if candidate.is_file():
            return candidate
    return None


def _propagate_folders(args: argparse.Namespace) -> int:
    """Folder-to-folder labelling: supports + masks → predicted 0/255 PNG masks for every image."""
    import cv2

    from symnet_core.io.images import ImageReadError, list_images, read_image
    from symnet_core.workflows.prediction_steps import binary_mask

    sup_dir, mask_dir, img_dir, out_dir = map(Path, (args.supports, args.masks, args.images, args.out))
    for d, what in ((sup_dir, "--supports"), (mask_dir, "--masks"), (img_dir, "--images")):
        if not d.is_dir():
            raise UsageError(f"{what} {d}: not a folder")
    sup_images, sup_masks = [], []
    for rel in list_images(sup_dir):
        mpath = _mask_for(mask_dir, rel)
        if mpath is None:
            log.warning("support %s has no mask in %s: skipped", rel, mask_dir)
            continue
        try:
            img = read_image(sup_dir / rel, max_side=args.max_side)
        except ImageReadError as exc:
            raise UsageError(str(exc)) from exc
        raw = cv2.imread(str(mpath), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise UsageError(f"{mpath}: cannot read the mask")
        if raw.ndim == 3:
            raw = raw.max(axis=2)
        mask = cv2.resize((raw > 0).astype(np.uint8), (img.rgb.shape[1], img.rgb.shape[0]),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
        sup_images.append(img.rgb)
        sup_masks.append(mask)
    if not sup_images:
        raise UsageError(f"no support image in {sup_dir} has a mask in {mask_dir} (same relative name, .png)")
    all_images = list_images(img_dir)
    names = output_names(all_images)  # over the whole folder, so every shard names a mask the same way
    targets = folder_targets(args, all_images)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.engine == "ray":
        return run_folders_ray(args, sup_images, sup_masks, targets, lambda rel, mask: _write_png_atomic(
            out_dir / names[rel], mask))
    loaded = load_model(args, class_names=[args.class_name])
    try:
        summary = loaded.predictor.set_supports(sup_images, sup_masks, args.class_name)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    for w in summary.warnings:
        log.warning("%s", w)
    failed: dict[str, str] = {}
    written = 0
    cancel = threading.Event()
    progress = ProgressLine("propagate", quiet=args.quiet)
    done = 0
    with interrupt_sets(cancel):
        for start in range(0, len(targets), max(1, args.batch_size)):
            if cancel.is_set():
                break
            chunk = targets[start : start + max(1, args.batch_size)]
            loaded_imgs = []
            for rel in chunk:
                try:
                    loaded_imgs.append((rel, read_image(img_dir / rel, max_side=args.max_side)))
                except ImageReadError as exc:
                    failed[rel] = exc.reason
            try:
                preds = loaded.predictor.predict_many([im.rgb for _, im in loaded_imgs], batch_size=len(chunk),
                                                      cancel=cancel) if loaded_imgs else []
            except Exception as exc:  # one bad batch must not stop the run
                if cancel.is_set():
                    break
                log.exception("prediction failed for %s", [r for r, _ in loaded_imgs])
                preds = []
                for rel, _ in loaded_imgs:
                    failed[rel] = f"{type(exc).__name__}: {exc}"
                loaded_imgs = []
            for (rel, img), pred in zip(loaded_imgs, preds, strict=True):
                mask = binary_mask(pred, img.full_size)
                try:
                    _write_png_atomic(out_dir / names[rel], mask)
                except OSError as exc:
                    failed[rel] = f"cannot write the mask: {exc}"
                else:
                    written += 1
            done += len(chunk)
            progress(done, len(targets), chunk[-1])
    print(f"{written}/{len(targets)} masks written to {out_dir}"  # noqa: T201
          + (" (interrupted)" if cancel.is_set() else ""))
    renamed = {rel: n for rel, n in names.items() if n != str(Path(rel).with_suffix(".png"))}
    if renamed:
        print(f"  {len(renamed)} images share a name up to the extension; their masks keep it:")  # noqa: T201
        for rel, n in renamed.items():
            print(f"    {rel} -> {n}")  # noqa: T201
    for rel, why in failed.items():
        print(f"  not predicted: {rel}: {why}")  # noqa: T201
    if cancel.is_set():
        return EXIT_INTERRUPTED
    return EXIT_PARTIAL if failed else EXIT_OK


def output_names(targets: list[str]) -> dict[str, str]:
    """``{image rel path: mask rel path}``: ``a/x.jpg -> a/x.png``, except where two images would get
    the same mask name (``x.bmp`` and ``x.webp``; compared case-insensitively, as some file systems
    do): those keep their extension (``x.bmp.png``, ``x.webp.png``), so no mask overwrites another."""
    plain = {rel: str(Path(rel).with_suffix(".png")) for rel in targets}
    users: dict[str, int] = {}
    for name in plain.values():
        users[name.casefold()] = users.get(name.casefold(), 0) + 1
    out = {rel: (f"{rel}.png" if users[name.casefold()] > 1 else name) for rel, name in plain.items()}
    seen: dict[str, list[str]] = {}
    for rel, name in out.items():
        seen.setdefault(name.casefold(), []).append(rel)
    clashes = [" and ".join(rels) for rels in seen.values() if len(rels) > 1]
    if clashes:
        raise UsageError(f"these images would write the same mask file; rename one of each: {'; '.join(clashes)}")
    return out


def _write_png_atomic(path: Path, mask: np.ndarray) -> None:
    import cv2

    from symnet_core.io.common import atomic_write_bytes

    ok, buf = cv2.imencode(".png", mask)
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    atomic_write_bytes(path, buf.tobytes())


