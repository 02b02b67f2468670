"""Test-time adaptation on held-out synthetic classes: mIoU before vs after ``adapt_predictor``.

For every novel class of the checkpoint's synthetic dataset and every draw, ``n`` supports and
``--queries`` query scenes of that class are taken from the independent "test" scene stream
(never used in training); the queries are predicted with the checkpoint's head, the head is
adapted on the supports, and the same queries are predicted again. mIoU as the spec defines it:
per class, intersections and unions summed over all its queries, then the mean over classes.

    python bench/bench_adaptation.py --shots 1 5 --queries 50 --draws 2 --json adapt.json

Prints one line per (shots, class, draw) and a summary; ``--json`` writes everything.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symnet_core.adaptation.head_tuning import AdaptConfig, adapt_predictor  # noqa: E402
from symnet_core.inference.loading import default_checkpoint, load_predictor  # noqa: E402
from symnet_core.training.synthetic import SyntheticFewShot, dataset_from_metadata  # noqa: E402


def dataset_from_checkpoint(predictor: object) -> SyntheticFewShot:
    data = dict(predictor.model.checkpoint_info.metadata.get("data") or {})  # type: ignore[attr-defined]
    try:
        return dataset_from_metadata(data)
    except ValueError as exc:
        raise SystemExit(f"this benchmark needs a checkpoint trained on the synthetic dataset ({exc})") from exc


def _iou_sums(predictor: object, queries: list[tuple[np.ndarray, np.ndarray]]) -> tuple[int, int]:
    inter = union = 0
    preds = predictor.predict_many([q for q, _ in queries], batch_size=8)  # type: ignore[attr-defined]
    for pred, (_, truth) in zip(preds, queries, strict=True):
        inter += int((pred.mask & truth).sum())
        union += int((pred.mask | truth).sum())
    return inter, union


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=default_checkpoint())
    ap.add_argument("--shots", type=int, nargs="+", default=[1, 5], help="numbers of supports")
    ap.add_argument("--queries", type=int, default=50, help="query images per class and draw")
    ap.add_argument("--draws", type=int, default=2, help="independent support draws per class")
    ap.add_argument("--steps", type=int, default=AdaptConfig.steps)
    ap.add_argument("--lr", type=float, default=AdaptConfig.lr)
    ap.add_argument("--batch-size", type=int, default=AdaptConfig.batch_size)
    ap.add_argument("--anchor-weight", type=float, default=AdaptConfig.anchor_weight)
    ap.add_argument("--revert-tolerance", type=float, default=AdaptConfig.revert_tolerance)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    loaded = load_predictor(args.checkpoint, device="cpu")
    predictor = loaded.predictor
    ds = dataset_from_checkpoint(predictor)
    cfg = AdaptConfig(steps=args.steps, lr=args.lr, batch_size=args.batch_size, anchor_weight=args.anchor_weight,
                      revert_tolerance=args.revert_tolerance, seed=args.seed)  # fmt: skip
    print(f"{loaded.description}\nnovel classes {list(ds.novel_classes)}, {args.queries} queries per class and draw, "
          f"{args.draws} draws; {cfg}", flush=True)  # fmt: skip
    rows = []
    summary = {}
    for n in args.shots:
        sums = {c: np.zeros(4, np.int64) for c in ds.novel_classes}  # I before, U before, I after, U after
        seconds = []
        for c in ds.novel_classes:
            for d in range(args.draws):
                rng = np.random.default_rng([args.seed, n, c, d])
                idx = rng.choice(1 << 30, size=n + args.queries, replace=False)
                scenes = [ds.class_scene(c, int(i), "test") for i in idx]
                sup = [(img, lab == c) for img, lab in scenes[:n]]
                queries = [(img, lab == c) for img, lab in scenes[n:]]
                predictor.reset_head()
                predictor.set_supports([s[0] for s in sup], [s[1] for s in sup], ds.class_names[c])
                i0, u0 = _iou_sums(predictor, queries)
                report = adapt_predictor(predictor, config=cfg)
                i1, u1 = _iou_sums(predictor, queries)
                sums[c] += (i0, u0, i1, u1)
                seconds.append(report.seconds)
                row = {"shots": n, "class": c, "draw": d, "iou_before": i0 / max(u0, 1), "iou_after": i1 / max(u1, 1),
                       "loss_start": report.loss_start, "loss_end": report.loss_end,
                       "check": report.check, "check_before": report.check_iou_before,
                       "check_after": report.check_iou_after, "kept": report.kept,
                       "adapt_s": report.seconds}  # fmt: skip
                rows.append(row)
                print(f"{n}-shot class {c} draw {d}: IoU {row['iou_before']:.3f} → {row['iou_after']:.3f} "
                      f"({report.describe()})", flush=True)  # fmt: skip
        before = float(np.mean([s[0] / max(s[1], 1) for s in sums.values()]))
        after = float(np.mean([s[2] / max(s[3], 1) for s in sums.values()]))
        per_class = [s[2] / max(s[3], 1) - s[0] / max(s[1], 1) for s in sums.values()]
        summary[str(n)] = {"miou_before": before, "miou_after": after, "gain": after - before,
                           "classes_improved": int(sum(g > 0 for g in per_class)), "classes": len(per_class),
                           "heads_kept": int(sum(r["kept"] for r in rows if r["shots"] == n)),
                           "queries": args.queries * args.draws * len(sums),
                           "adapt_s_median": float(np.median(seconds))}  # fmt: skip
        sm = summary[str(n)]
        runs = len(sums) * args.draws
        print(f"== {n} support(s): mIoU {before:.4f} → {after:.4f} (gain {after - before:+.4f}; "
              f"{sm['classes_improved']}/{len(per_class)} classes improved; {sm['heads_kept']}/{runs} heads kept; "
              f"{sm['queries']} queries; adaptation median {np.median(seconds):.1f} s)", flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"checkpoint": str(args.checkpoint), "config": repr(cfg), "args": vars(args),
                                         "summary": summary, "rows": rows, "time": time.strftime("%F %T")},
                                        indent=1, default=str))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
