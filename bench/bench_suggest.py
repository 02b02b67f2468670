"""Benchmark: does "Next suggested image" pick better supports than chance?

The situation it measures: a folder of images of one class, one painted support, a propagation
done; the user paints ``k`` more supports (k = 1..4), one at a time, each chosen either

* ``suggested`` — the top image of :func:`symnet_core.workflows.suggest.rank_candidates` after
  propagating with the supports so far, at weight 0.5 (k-center distance and confidence equally:
  the first design; the app now ships weight 1.0 = ``confidence``, chosen from this benchmark), or
* ``random`` — an image drawn at random from the unlabelled ones,

and after each addition the model's IoU is measured on a held-out set of images of the same
class. Ablations ``confidence`` (uncertainty only: lowest confidence first) and ``coverage``
(k-center distance only) run the same loop with weight 1 and 0.

World: the shipped demo model and its synthetic dataset (the six held-out classes it never saw
in training); per class and seed a pool of ``--pool`` scenes (the folder) and ``--eval`` other
scenes (the held-out set) from the ``demo`` stream; the first support is a random pool image,
the same for every strategy. A painted support uses the scene's ground-truth mask. IoU per class
= Σ intersection / Σ union over the held-out images; mIoU = mean over classes; figures are the
mean (and standard deviation) of those over the seeds.

Usage (prints JSON; the committed figures come from the first line)::

    python bench/bench_suggest.py --out docs/perf/suggest.json
    python bench/bench_suggest.py --seeds 1 --pool 8 --eval 6 --classes 85   # smoke run
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = {"suggested": 0.5, "random": None, "confidence": 1.0, "coverage": 0.0}


def _iou_sums(preds, masks) -> tuple[int, int]:
    inter = union = 0
    for pred, gt in zip(preds, masks, strict=True):
        inter += int(np.logical_and(pred.mask, gt).sum())
        union += int(np.logical_or(pred.mask, gt).sum())
    return inter, union


def _measure(predictor, world, chosen, class_name):
    """Supports = ``chosen`` pool images: (held-out IoU, folder IoU, candidate indices, their predictions).

    Folder IoU counts every pool image, the painted ones at their painted (ground-truth) mask.
    """
    pool, pool_masks, evals, eval_masks = world
    predictor.set_supports([pool[i] for i in chosen], [pool_masks[i] for i in chosen], class_name)
    candidates = [i for i in range(len(pool)) if i not in chosen]
    preds = predictor.predict_many([pool[i] for i in candidates], batch_size=8)
    inter, union = _iou_sums(preds, [pool_masks[i] for i in candidates])
    painted = sum(int(pool_masks[i].sum()) for i in chosen)
    held_inter, held_union = _iou_sums(predictor.predict_many(evals, batch_size=8), eval_masks)
    return held_inter / max(held_union, 1), (inter + painted) / max(union + painted, 1), candidates, preds


def _run_strategy(predictor, name, weight, world, first, start, steps, class_name, rng):
    """Both IoUs after each of ``steps`` additions; returns (held-out IoUs, folder IoUs, picks)."""
    from symnet_core.workflows.suggest import rank_candidates

    pool = world[0]
    chosen = [first]
    _, _, candidates, preds = start
    held, folder = [], []
    for _ in range(steps):
        if name == "random":
            pick = int(rng.choice(candidates))
        else:
            ranking = rank_candidates(
                np.stack([p.embedding for p in preds]), [p.score for p in preds],
                predictor.embed([pool[i] for i in chosen]), uncertainty_weight=weight,
            )
            pick = candidates[int(ranking.order[0])]
        chosen.append(pick)
        held_iou, folder_iou, candidates, preds = _measure(predictor, world, chosen, class_name)
        held.append(held_iou)
        folder.append(folder_iou)
    return held, folder, chosen[1:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    ap.add_argument("--pool", type=int, default=24, help="unlabelled images per class and seed")
    ap.add_argument("--eval", type=int, default=24, help="held-out images per class and seed")
    ap.add_argument("--steps", type=int, default=4, help="supports added after the first (k = 1..steps)")
    ap.add_argument("--classes", type=int, nargs="*", help="class ids (default: the demo dataset's novel classes)")
    ap.add_argument("--strategies", nargs="*", default=list(STRATEGIES), choices=list(STRATEGIES))
    ap.add_argument("--weights", type=float, nargs="*", default=[],
                    help="also run the suggestion at these uncertainty weights (strategies 'w<weight>')")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda, auto")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)

    import torch

    from symnet_core.assets import demo_model_path
    from symnet_core.inference.loading import load_predictor
    from symnet_core.training.synthetic.demo_folder import demo_dataset
    from symnet_core.workflows.suggest import DEFAULT_UNCERTAINTY_WEIGHT

    if args.threads:
        torch.set_num_threads(args.threads)
    predictor = load_predictor(demo_model_path(), device=args.device).predictor
    ds = demo_dataset()
    classes = args.classes or list(ds.novel_classes)
    scene_pool = ds.split_pool("demo")
    started = time.perf_counter()
    for w in args.weights:
        if not 0.0 <= w <= 1.0:
            ap.error(f"--weights must be in [0, 1], got {w}")
        STRATEGIES[f"w{w:g}"] = w
        args.strategies.append(f"w{w:g}")
    per_class: dict[str, dict[str, list[list[float]]]] = {}
    folder_iou: dict[str, dict[str, list[list[float]]]] = {}
    picks: dict[str, dict[str, list[list[int]]]] = {}
    for cid in classes:
        name = ds.spec(cid).name
        per_class[str(cid)] = {s: [] for s in ["start", *args.strategies]}
        folder_iou[str(cid)] = {s: [] for s in ["start", *args.strategies]}
        picks[str(cid)] = {s: [] for s in args.strategies}
        for seed in range(args.seeds):
            base = 7_000_000 + 10_000 * seed
            scenes = [ds.scene(base + i, scene_pool, main=cid, stream="demo") for i in range(args.pool + args.eval)]
            images = [rgb for rgb, _ in scenes]
            masks = [label == cid for _, label in scenes]
            world = (images[: args.pool], masks[: args.pool], images[args.pool :], masks[args.pool :])
            rng = np.random.default_rng([cid, seed])
            first = int(rng.integers(args.pool))
            start = _measure(predictor, world, [first], name)
            per_class[str(cid)]["start"].append([start[0]])
            folder_iou[str(cid)]["start"].append([start[1]])
            for strategy in args.strategies:
                weight = STRATEGIES[strategy]
                weight = DEFAULT_UNCERTAINTY_WEIGHT if weight is None else weight
                held, folder, chosen = _run_strategy(
                    predictor, strategy, weight, world, first, start, args.steps, name,
                    np.random.default_rng([cid, seed, 99]),
                )
                per_class[str(cid)][strategy].append(held)
                folder_iou[str(cid)][strategy].append(folder)
                picks[str(cid)][strategy].append(chosen)
            print(f"class {cid} seed {seed}: " + ", ".join(
                f"{s} {per_class[str(cid)][s][-1][-1]:.3f}/{folder_iou[str(cid)][s][-1][-1]:.3f}"
                for s in ["start", *args.strategies]
            ), file=sys.stderr, flush=True)

    def miou(table: dict, strategy: str, step: int) -> list[float]:
        """mIoU over classes, one value per seed."""
        return [float(np.mean([table[str(c)][strategy][s][step] for c in classes])) for s in range(args.seeds)]

    summary: dict[str, object] = {}
    for metric, table in (("held_out", per_class), ("folder", folder_iou)):
        part: dict[str, object] = {"start_1_support": float(np.mean(miou(table, "start", 0)))}
        for strategy in args.strategies:
            rows = []
            for k in range(args.steps):
                values = miou(table, strategy, k)
                rows.append({"k": k + 1, "supports": k + 2, "miou_mean": float(np.mean(values)),
                             "miou_std_over_seeds": float(np.std(values)), "miou_per_seed": values})
            part[strategy] = rows
        for strategy in args.strategies:
            if strategy == "random" or "random" not in args.strategies:
                continue
            part[f"gain_{strategy}_minus_random"] = [
                float(np.mean(miou(table, strategy, k)) - np.mean(miou(table, "random", k))) for k in range(args.steps)
            ]
            part[f"seeds_where_{strategy}_beats_random"] = [
                int(sum(a > b for a, b in zip(miou(table, strategy, k), miou(table, "random", k), strict=True)))
                for k in range(args.steps)
            ]
        summary[metric] = part
    result = {
        "command": "python bench/bench_suggest.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": "demo (symnet_core/assets/demo/demo_model.pth)",
        "classes": classes, "seeds": args.seeds, "pool": args.pool, "eval": args.eval, "steps": args.steps,
        "uncertainty_weight_suggested": STRATEGIES["suggested"],
        "summary": summary, "held_out_iou": per_class, "folder_iou": folder_iou, "picks": picks,
        "elapsed_s": round(time.perf_counter() - started, 1), "torch_threads": torch.get_num_threads(),
        "device": str(predictor.device),
        "python": platform.python_version(), "torch": torch.__version__,
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
