"""Headless commands of ``symnet-annotate``: ``propagate``, ``adapt``, ``export``, ``validate``, ``import``.

Exit codes: 0 success; 1 finished but something failed (unreadable images, invalid export);
2 bad usage or input (no project, unusable checkpoint, no supports); 130 interrupted (Ctrl+C —
everything finished so far is saved; a project run resumes when started again).

This module never imports Qt; ``symnet_gui.__main__`` hands these subcommands over without
starting the GUI.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

log = logging.getLogger("symnet_annotate")

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
SUBCOMMANDS = ("propagate", "adapt", "export", "validate", "import")


class UsageError(Exception):
    """Bad arguments or unusable input: printed without a traceback, exit code 2."""


# -- progress ------------------------------------------------------------------------------------
class ProgressLine:
    """A tqdm-style progress line on stderr (redrawn in place on a terminal, every 5 s otherwise)."""

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int | None, item: str = "") -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if not self.tty and not finished and now - self.last < 5.0:
            return
        self.last = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        if total:
            eta = (total - done) / rate if rate > 0 else float("nan")
            eta_s = time.strftime("%H:%M:%S", time.gmtime(eta)) if eta == eta else "--:--:--"
            text = f"{self.label} {done}/{total} {100 * done / total:5.1f}% {rate:.2f} img/s ETA {eta_s} {item}"
        else:
            text = f"{self.label} {done} {rate:.2f} img/s {item}"
        if self.tty:
            self.stream.write("\r" + text[:160].ljust(160))
            if finished:
                self.stream.write("\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


@contextmanager
def interrupt_sets(event: threading.Event) -> Iterator[None]:
    """Make Ctrl+C (and SIGTERM) set ``event`` instead of raising, so loops stop between images."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if event.is_set():  # second Ctrl+C: stop hard
            raise KeyboardInterrupt
        log.warning("interrupted: finishing the current image, then stopping (Ctrl+C again to abort)")
        event.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# -- shared helpers ------------------------------------------------------------------------------
def _open_project(path: str, *, read_only: bool = False):
    from symnet_core.project import Project, ProjectError

    try:
        return Project.open(path, read_only=read_only)
    except ProjectError as exc:
        raise UsageError(str(exc)) from exc


def _load(args: argparse.Namespace, project_settings: dict | None = None):
    from symnet_core.checkpoints import CheckpointError
    from symnet_core.runtime import default_checkpoint, load_predictor
    from symnet_core.text_embeddings import TextEncoderUnavailable

    ckpt = args.checkpoint or (project_settings or {}).get("checkpoint") or default_checkpoint()
    if not ckpt:
        raise UsageError("no model: pass --checkpoint FILE (an authors' checkpoint or one from symnet-train)")
    try:
        loaded = load_predictor(
            ckpt, device=args.device, threshold=args.threshold, meta_only=args.meta_only,
            word2vec=args.word2vec, allow_download=args.allow_download, resize=args.resize,
        )
    except (CheckpointError, TextEncoderUnavailable, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    log.info("model: %s", loaded.description)
    return loaded


# -- propagate -----------------------------------------------------------------------------------
def _propagate_project(args: argparse.Namespace) -> int:
    from symnet_core.propagation import PropagationError, propagate_project

    cancel = threading.Event()
    project = _open_project(args.project)
    try:
        loaded = _load(args, project.settings)
        progress = ProgressLine("propagate")
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
        project.close()
    print(report.summary())  # noqa: T201
    for key, why in {**report.unreadable, **report.failed}.items():
        print(f"  not predicted: {key}: {why}")  # noqa: T201
    for w in report.warnings:
        print(f"  warning: {w}")  # noqa: T201
    if report.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_PARTIAL if report.unreadable or report.failed else EXIT_OK


# -- adapt ---------------------------------------------------------------------------------------
def _adapt(args: argparse.Namespace) -> int:
    from symnet_core.adaptation import AdaptConfig
    from symnet_core.cancel import OperationCancelled
    from symnet_core.class_adaptation import adapt_class, remove_adapted_head
    from symnet_core.project import ProjectWriteError

    project = _open_project(args.project)
    try:
        names = [args.class_name] if args.class_name else [c.name for c in project.classes]
        classes = []
        for name in names:
            rec = project.class_by_name(name)
            if rec is None:
                raise UsageError(f"no class '{name}' in {args.project} (classes: {[c.name for c in project.classes]})")
            classes.append(rec)
        if args.reset:
            for rec in classes:
                print(f"{rec.name}: " + ("adapted head removed" if remove_adapted_head(project, rec.id)  # noqa: T201
                                         else "no adapted head"))  # fmt: skip
            return EXIT_OK
        try:
            config = AdaptConfig(steps=args.steps, lr=args.lr, seed=args.seed, revert_tolerance=args.revert_tolerance)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        loaded = _load(args, project.settings)
        cancel = threading.Event()
        with interrupt_sets(cancel):
            for rec in classes:
                if not project.supports(rec.id):
                    print(f"{rec.name}: skipped (no supports)")  # noqa: T201
                    continue
                line = ProgressLine(f"adapt {rec.name}")
                try:
                    report = adapt_class(project, rec.id, loaded.new_predictor(), config, max_side=args.max_side,
                                         progress=lambda i, n, line=line: line(i, n), cancel=cancel)  # fmt: skip
                except OperationCancelled:
                    print(f"{rec.name}: interrupted, nothing saved")  # noqa: T201
                    return EXIT_INTERRUPTED
                except (ValueError, ProjectWriteError) as exc:
                    raise UsageError(str(exc)) from exc
                print(f"{rec.name}: {report.describe()}")  # noqa: T201
    finally:
        project.close()
    return EXIT_OK


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

    from symnet_core.imageio import ImageReadError, list_images, read_image

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
    loaded = _load(args)
    try:
        summary = loaded.predictor.set_supports(sup_images, sup_masks, args.class_name)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    for w in summary.warnings:
        log.warning("%s", w)
    targets = list_images(img_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed: dict[str, str] = {}
    cancel = threading.Event()
    progress = ProgressLine("propagate")
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
                mask = pred.mask.astype(np.uint8) * 255
                if (mask.shape[1], mask.shape[0]) != img.full_size:
                    mask = cv2.resize(mask, img.full_size, interpolation=cv2.INTER_NEAREST)
                try:
                    _write_png_atomic((out_dir / rel).with_suffix(".png"), mask)
                except OSError as exc:
                    failed[rel] = f"cannot write the mask: {exc}"
            done += len(chunk)
            progress(done, len(targets), chunk[-1])
    ok = done - len(failed)
    print(f"{ok}/{len(targets)} masks written to {out_dir}" + (" (interrupted)" if cancel.is_set() else ""))  # noqa: T201
    for rel, why in failed.items():
        print(f"  not predicted: {rel}: {why}")  # noqa: T201
    if cancel.is_set():
        return EXIT_INTERRUPTED
    return EXIT_PARTIAL if failed else EXIT_OK


def _write_png_atomic(path: Path, mask: np.ndarray) -> None:
    import cv2

    from symnet_core.export.common import atomic_write_bytes

    ok, buf = cv2.imencode(".png", mask)
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    atomic_write_bytes(path, buf.tobytes())


# -- export / validate / import -----------------------------------------------------------------
def _export(args: argparse.Namespace) -> int:
    from symnet_core.export import CocoExportOptions, PngExportOptions, validate_coco, write_coco, write_png_masks
    from symnet_core.export.coco import write_coco_per_class
    from symnet_core.export.project_export import ProjectMasks, included, iter_project_images, project_categories

    which = "verified" if args.only_accepted else "all"
    out = Path(args.out)
    warnings: list[str] = []
    project = _open_project(args.project, read_only=True)
    try:
        if not any(included(r.status, which) for r in project.images if not r.missing):
            kind = "human-verified" if args.only_accepted else "labelled"
            raise UsageError(f"nothing to export: no {kind} image")
        cats = project_categories(project)
        if args.format == "png":
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
    return status


def _validate(args: argparse.Namespace) -> int:
    from symnet_core.export import validate_coco

    if not Path(args.file).is_file():
        raise UsageError(f"{args.file}: no such file")
    report = validate_coco(args.file, images_dir=args.images)
    print(report.summary())  # noqa: T201
    for e in report.errors:
        print(f"  error: {e}")  # noqa: T201
    for w in report.warnings:
        print(f"  warning: {w}")  # noqa: T201
    return EXIT_OK if report.ok else EXIT_PARTIAL


def _import(args: argparse.Namespace) -> int:
    from symnet_core.export import import_coco, import_png_masks, load_png_classes
    from symnet_core.project import Project, ProjectError

    root = Path(args.project)
    project = Project.open(root) if Project.exists(root) else Project.create(root)
    try:
        keys = [r.path for r in project.images if not r.missing]
        if args.coco:
            cats, masks = import_coco(args.coco)
        else:
            cats = load_png_classes(args.masks)
            masks = import_png_masks(args.masks, keys, strict=False)
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


# -- argument parsing ----------------------------------------------------------------------------
def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", help="model file (default: the project's model, else the bundled demo model)")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--threshold", type=float, default=0.5, help="foreground probability threshold (0.5 = argmax)")
    p.add_argument("--meta-only", action="store_true", help="ignore the base learner (for base classes, spec §7)")
    p.add_argument("--word2vec", help="the authors' word2vec_<dataset>.pkl for their checkpoints")
    p.add_argument("--allow-download", action="store_true", help="allow downloading CLIP text weights")
    p.add_argument("--resize", choices=("fit", "shrink-only"), default=None,
                   help="letterbox resize: fit = the authors' evaluation (every image's longer side scaled to "
                        "the model input; default for their checkpoints), shrink-only = never enlarge small "
                        "images (default: what the checkpoint was evaluated with; see docs/inference.md)")
    p.add_argument("--max-side", type=int, default=1024, help="decode images with their long side ≤ this")
    p.add_argument("--batch-size", type=int, default=1,
                   help="images per forward pass (worth it on a GPU); results are still saved one by one")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symnet-annotate", description="Headless symnet-annotate commands.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

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
    _model_args(p)

    a = sub.add_parser("adapt", help="fine-tune the model head on a class's supports (saved in the project)")
    a.add_argument("--project", required=True, help="images folder (or its .symnet folder) of a project")
    a.add_argument("--class", dest="class_name", help="class to adapt (default: every class with supports)")
    a.add_argument("--steps", type=int, default=30, help="optimisation steps (default 30)")
    a.add_argument("--lr", type=float, default=0.005, help="learning rate (default 0.005)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--revert-tolerance", type=float, default=0.02,
                   help="discard the adapted head when its IoU on the supports drops by more than this (1 = keep)")
    a.add_argument("--reset", action="store_true", help="remove the adapted head(s) instead")
    _model_args(a)

    e = sub.add_parser("export", help="export a project's masks as COCO JSON or PNG label masks")
    e.add_argument("--project", required=True)
    e.add_argument("--format", choices=("coco", "png"), default="coco")
    e.add_argument("--polygons", action="store_true", help="polygons instead of RLE (holes fall back to RLE)")
    e.add_argument("--per-class", action="store_true", help="one COCO file per class (--out is a folder)")
    e.add_argument("--per-image", action="store_true", help="one annotation per class per image, not per component")
    e.add_argument("--min-area", type=int, default=0, help="drop components smaller than this (pixels)")
    e.add_argument("--only-accepted", action="store_true",
                   help="only human-verified images (accepted/edited/support); default: also unreviewed predictions")
    e.add_argument("--visualisations", action="store_true", help="PNG export: also colour previews")
    e.add_argument("--out", required=True)

    v = sub.add_parser("validate", help="check a COCO file with pycocotools")
    v.add_argument("file")
    v.add_argument("--images", help="image root: check files exist and sizes match")

    i = sub.add_parser("import", help="import COCO annotations or PNG masks into a project")
    i.add_argument("--project", required=True, help="images folder (a project is created if there is none)")
    src = i.add_mutually_exclusive_group(required=True)
    src.add_argument("--coco")
    src.add_argument("--masks")
    i.add_argument("--class", dest="class_name", help="class name for binary PNG masks without classes.json")
    i.add_argument("--status", default="accepted", choices=("accepted", "edited", "predicted"))
    i.add_argument("--as-supports", action="store_true", help="also mark imported images as supports")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        if args.command == "propagate":
            folder_args = (args.supports, args.masks, args.images, args.out, args.class_name)
            if args.project and any(folder_args):
                raise UsageError("use either --project or --supports/--masks/--images/--class/--out")
            if args.project:
                return _propagate_project(args)
            if not all(folder_args):
                raise UsageError("propagate needs --project DIR, or all of --supports --masks --images --class --out")
            return _propagate_folders(args)
        if args.command == "adapt":
            return _adapt(args)
        if args.command == "export":
            return _export(args)
        if args.command == "validate":
            return _validate(args)
        return _import(args)
    except UsageError as exc:
        print(f"symnet-annotate {args.command}: error: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)  # noqa: T201
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
