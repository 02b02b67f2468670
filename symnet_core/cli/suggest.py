"""``symnet-annotate suggest``: which images to annotate next (after a propagation).

Ranks the project's unlabelled, predicted and rejected images by how much a support there would
help (:mod:`symnet_core.workflows.next_image`): by default lowest model confidence first (rejected
predictions first of all); ``--uncertainty-weight`` below 1 mixes in distance from the supports.
Reads the project only (opened read-only, so it works while the app has it open).
"""

from __future__ import annotations

import argparse
import json

from symnet_core.cli.common import EXIT_OK, UsageError, open_project


def register(sub) -> None:
    s = sub.add_parser("suggest", help="list the images to annotate next, best first (after a propagation)")
    s.add_argument("--project", required=True, help="images folder (or its .symnet folder) of a project")
    s.add_argument("--top", type=int, default=10, help="how many to list (default 10; 0 = all)")
    s.add_argument("--uncertainty-weight", type=float, default=None,
                   help="1 = lowest confidence first (default, measured best), 0 = only how unlike the "
                        "supports an image looks (k-center); docs/gui.md")
    s.add_argument("--json", action="store_true", help="print JSON instead of lines")
    s.set_defaults(run=_suggest)


def _suggest(args: argparse.Namespace) -> int:
    from symnet_core.workflows.next_image import suggest_next
    from symnet_core.workflows.suggest import DEFAULT_UNCERTAINTY_WEIGHT

    if args.top < 0:
        raise UsageError(f"--top must be >= 0, got {args.top}")
    weight = DEFAULT_UNCERTAINTY_WEIGHT if args.uncertainty_weight is None else args.uncertainty_weight
    if not 0.0 <= weight <= 1.0:
        raise UsageError(f"--uncertainty-weight must be in [0, 1], got {weight}")
    with open_project(args.project, read_only=True) as project:
        s = suggest_next(project, uncertainty_weight=weight)
        n = len(s.ranked) if args.top == 0 else min(args.top, len(s.ranked))
        rows = []
        for key, priority in zip(s.ranked[:n], s.priorities[:n], strict=True):
            rec = project.image(key)
            rows.append({"image": key, "priority": round(priority, 4), "status": str(rec.status),
                         "confidence": rec.confidence})
    if args.json:
        print(json.dumps({"ranked": rows, "unranked": list(s.unranked), "supports_used": s.supports_used,  # noqa: T201
                          "model": s.model, "uncertainty_weight": weight}, indent=1))
        return EXIT_OK
    if not s.ranked:
        print("nothing ranked yet: propagate first (the ranking uses the propagation's confidences and image "  # noqa: T201
              "features)" + (f"; {len(s.unranked)} image(s) wait for a first prediction" if s.unranked else ""))
        return EXIT_OK
    for i, row in enumerate(rows, 1):
        conf = "—" if row["confidence"] is None else f"{row['confidence']:.2f}"
        print(f"{i:3d}. {row['image']}  priority {row['priority']:.3f}  {row['status']}, confidence {conf}")  # noqa: T201
    rest = len(s.ranked) - n
    tail = [f"{rest} more ranked"] if rest else []
    tail += [f"{len(s.unranked)} never propagated"] if s.unranked else []
    print(f"({s.supports_used} support(s) as reference" + "".join(f"; {t}" for t in tail) + ")")  # noqa: T201
    return EXIT_OK
