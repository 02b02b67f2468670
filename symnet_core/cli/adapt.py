"""``symnet-annotate adapt``: fine-tune the model head on a class's supports (saved in the project)."""

from __future__ import annotations

import argparse
import threading

from symnet_core.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    ProgressLine,
    UsageError,
    add_model_args,
    interrupt_sets,
    load_model,
    open_project,
)


def register(sub) -> None:
    a = sub.add_parser("adapt", help="fine-tune the model head on a class's supports (saved in the project)")
    a.add_argument("--project", required=True, help="images folder (or its .symnet folder) of a project")
    a.add_argument("--class", dest="class_name", help="class to adapt (default: every class with supports)")
    a.add_argument("--steps", type=int, default=30, help="optimisation steps (default 30)")
    a.add_argument("--lr", type=float, default=0.005, help="learning rate (default 0.005)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--revert-tolerance", type=float, default=0.02,
                   help="discard the adapted head when its IoU on the supports drops by more than this (1 = keep)")
    a.add_argument("--reset", action="store_true", help="remove the adapted head(s) instead")
    add_model_args(a)

    a.set_defaults(run=_adapt)


def _adapt(args: argparse.Namespace) -> int:
    from symnet_core.adaptation.class_heads import adapt_class, remove_adapted_head
    from symnet_core.adaptation.head_tuning import AdaptConfig
    from symnet_core.cancel import OperationCancelled
    from symnet_core.project import ProjectWriteError

    project = open_project(args.project)
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
        loaded = load_model(args, project.settings, [c.name for c in classes])
        cancel = threading.Event()
        with interrupt_sets(cancel):
            for rec in classes:
                if not project.supports(rec.id):
                    print(f"{rec.name}: skipped (no supports)")  # noqa: T201
                    continue
                line = ProgressLine(f"adapt {rec.name}", quiet=args.quiet)
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


