"""``propagate --engine ray`` and ``propagate --shard i/N``: the distributed options of ``propagate``."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from symnet_core.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    ProgressLine,
    UsageError,
    interrupt_sets,
    load_model,
    open_project,
)


def add_distributed_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("distributed (docs/distributed.md)")
    g.add_argument("--engine", choices=("serial", "ray"), default="serial",
                   help="ray: predict on Ray actors (needs the 'distributed' extra); the driver commits")
    g.add_argument("--ray-address", help="address of a running Ray cluster (default: start a local Ray)")
    g.add_argument("--workers", type=int, default=2, help="--engine ray: actors, each loads the model once")
    g.add_argument("--threads-per-worker", type=int, default=1, help="--engine ray: CPU threads per actor")
    g.add_argument("--gpus-per-worker", type=float, default=0.0, help="--engine ray: GPUs per actor (0.5: 2 per GPU)")
    g.add_argument("--shard", metavar="i/N",
                   help="predict only shard i of N (0-based) of the sorted image list; results merge into the project")
    g.add_argument("--lock-wait", type=float, default=600.0,
                   help="--shard: seconds to wait for the project to be free before merging (results stay spooled)")
    g.add_argument("--merge-shards", action="store_true", help="--project: merge spooled shard results, then exit")


def uses_distributed(args: argparse.Namespace) -> bool:
    return args.engine == "ray" or bool(args.shard) or bool(args.merge_shards)


def _shard(args: argparse.Namespace) -> tuple[int, int] | None:
    if not args.shard:
        return None
    from symnet_core.workflows.distributed.shards import parse_shard

    if args.engine == "ray":
        raise UsageError("--shard splits work between separate processes: use it with --engine serial")
    try:
        return parse_shard(args.shard)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _ray_options(args: argparse.Namespace):
    from symnet_core.workflows.distributed.ray_engine import RayOptions

    if args.workers < 1 or args.threads_per_worker < 1 or args.gpus_per_worker < 0:
        raise UsageError("--workers and --threads-per-worker must be >= 1, --gpus-per-worker >= 0")
    return RayOptions(args.workers, args.threads_per_worker, args.gpus_per_worker, max(1, args.batch_size),
                      args.ray_address)


def _model_options(args: argparse.Namespace, settings: dict | None = None):
    from symnet_core.inference.loading import default_checkpoint
    from symnet_core.workflows.distributed.worker import ModelOptions

    ckpt = args.checkpoint or (settings or {}).get("checkpoint") or default_checkpoint()
    if not ckpt or not Path(ckpt).is_file():
        raise UsageError(f"no model file: {ckpt or 'pass --checkpoint FILE'}")
    return ModelOptions(str(Path(ckpt).resolve()), args.device, args.threshold, args.meta_only, args.word2vec,
                        args.allow_download)


def print_report(report) -> int:
    """Print a propagation report (summary, images not predicted, warnings); return the exit code."""
    print(report.summary())  # noqa: T201
    for key, why in {**report.unreadable, **report.failed}.items():
        print(f"  not predicted: {key}: {why}")  # noqa: T201
    for w in report.warnings:
        print(f"  warning: {w}")  # noqa: T201
    if report.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_PARTIAL if report.unreadable or report.failed else EXIT_OK


def run_project(args: argparse.Namespace) -> int:
    """``--project`` with ``--engine ray``, ``--shard`` or ``--merge-shards``."""
    from symnet_core.workflows.contracts import PropagationError
    from symnet_core.workflows.distributed import shards

    shard = _shard(args)
    cancel = threading.Event()
    progress = ProgressLine("propagate")
    if args.merge_shards:
        with open_project(args.project) as project:
            s = shards.merge_spools(project)
        print(f"merged {s.committed} shard result(s) from {len(s.spools)} spool(s); "  # noqa: T201
              f"{s.protected} human-verified kept, {len(s.busy)} shard(s) still running")
        return EXIT_OK
    try:
        if shard is not None:
            with open_project(args.project, read_only=True) as snapshot:
                settings = snapshot.settings
            loaded = load_model(args, settings)
            with interrupt_sets(cancel):
                report, merged = shards.propagate_project_shard(
                    args.project, loaded.new_predictor, shard[0], shard[1], scope=args.scope,
                    selected=args.select or None, progress=progress, cancel=cancel, max_side=args.max_side,
                    batch_size=args.batch_size, loader_workers=args.loader_workers, lock_wait_s=args.lock_wait,
                )
            print(f"shard {shard[0]}/{shard[1]}: " + ("results kept in the spool (project busy); run "  # noqa: T201
                  "--merge-shards later" if merged is None else f"{merged.committed} result(s) merged"))
            return print_report(report)
        from symnet_core.workflows.distributed.ray_engine import propagate_project_ray

        opts = _ray_options(args)
        project = open_project(args.project)
        try:
            model = _model_options(args, project.settings)
            with interrupt_sets(cancel):
                report = propagate_project_ray(project, model, opts, scope=args.scope, selected=args.select or None,
                                               progress=progress, cancel=cancel, max_side=args.max_side)
        finally:
            project.close()
    except PropagationError as exc:
        raise UsageError(str(exc)) from exc
    return print_report(report)


def folder_targets(args: argparse.Namespace, targets: list[str]) -> list[str]:
    """The folder-to-folder targets of this process (all, or this ``--shard``'s)."""
    shard = _shard(args)
    if shard is None:
        return targets
    from symnet_core.workflows.distributed.shards import shard_keys

    return shard_keys(targets, *shard)


def run_folders_ray(args: argparse.Namespace, sup_images: list, sup_masks: list, targets: list[str],
                    write_mask) -> int:
    """Folder-to-folder on Ray: actors predict, this process writes each 0/255 PNG as it arrives.

    ``write_mask(rel, mask)`` writes image ``rel``'s mask (the caller decides its file name)."""
    from symnet_core.workflows.contracts import PropagationError
    from symnet_core.workflows.distributed.ray_engine import predict_on_ray
    from symnet_core.workflows.distributed.worker import ClassSpec, WorkerSpec

    opts = _ray_options(args)
    spec = WorkerSpec(_model_options(args), [ClassSpec(1, args.class_name, sup_images, sup_masks)],
                      str(Path(args.images).resolve()), mode="binary", max_side=args.max_side, threads=opts.threads)
    out_dir = Path(args.out)
    failed: dict[str, str] = {}
    cancel = threading.Event()
    progress = ProgressLine("propagate")
    done = 0
    try:
        with interrupt_sets(cancel):
            for kind, rel, res in predict_on_ray(spec, targets, opts, cancel):
                if kind != "ok" or res.label is None:
                    failed[rel] = res.error or kind
                else:
                    try:
                        write_mask(rel, res.label)
                    except OSError as exc:
                        failed[rel] = f"cannot write the mask: {exc}"
                done += 1
                progress(done, len(targets), rel)
    except PropagationError as exc:
        raise UsageError(str(exc)) from exc
    print(f"{done - len(failed)}/{len(targets)} masks written to {out_dir}"  # noqa: T201
          + (" (interrupted)" if cancel.is_set() else ""))
    for rel, why in failed.items():
        print(f"  not predicted: {rel}: {why}")  # noqa: T201
    if cancel.is_set() and done < len(targets):
        return EXIT_INTERRUPTED
    return EXIT_PARTIAL if failed else EXIT_OK
