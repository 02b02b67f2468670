"""``symnet-bench``: per-query speed of the naive per-episode forward vs the cached predictor.

Prints one JSON document. Figures are medians over ``--repeats`` rounds in one process (after
``--warmup`` untimed runs of each per-query path). Every round times every path once, so all
paths see about the same machine load, and each ratio is the median of its per-round ratios;
quote ratios from one run (these machines are noisy). Weights are seed-generated
(:mod:`symnet_core.model.seeded_weights`) unless ``--checkpoint`` is given: speed does not depend on
their values.

Measured for every ``--threads`` value (``threads.<t>``) and shot count (``shots.<k>``):

* ``episode_official_prior_ms`` — :meth:`SymNet.forward` with the literal quadratic SPM, i.e. the
  authors' per-episode computation (support and query through everything, every time);
* ``episode_fast_prior_ms`` — the same forward with the matrix–vector SPM;
* ``cached_query_ms`` — the :class:`Predictor` path: supports encoded once, then per query
  ``encode_query`` + ``decode(upsample=False)`` (model only, input already a tensor; the
  predictor upsamples one difference map itself, which ``predictor_ms`` includes);
* ``decode_ms`` — ``decode`` alone on an already encoded query;
* ``predictor_ms`` — ``Predictor.predict`` on a uint8 image (letterbox, model, map back, score);
* ``backbone_ms`` and ``floor_ms`` (query backbone + base learner: the least any method must do);
* ``max_abs_diff_final`` — cached vs per-episode ``final`` output (must be ≤ 1e-4);
* ``batch.<precision>.<B>`` — per-query ms of the cached path with B distinct queries per forward
  (``--batch-sizes``, timed in their own interleaved rounds), ``batch_speedup_per_query`` (B = 1
  time over per-query time at B) and ``max_abs_diff_batched.<precision>``: max |batched −
  one-by-one| of ``final`` over the first and last query of each batch;
* ``<precision>`` (e.g. ``bf16``, ``--precisions``) — the cached path, decode, floor and predictor
  under autocast, with the speed-ups over fp32.

``--profile`` adds ``profile.<k>``: one ``torch.profiler`` run of the decode (first thread count)
with the time per model stage and the top operators. ``--agreement`` adds ``agreement``: masks of
the fast mode vs fp32 on held-out classes of a checkpoint trained on the synthetic dataset
(default: the bundled demo model), with both precisions' mIoU vs the ground truth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import torch

from symnet_core.benchmarks.agreement import agreement_from_checkpoint
from symnet_core.benchmarks.cpu import bench_shots, build_model, cpu_features, profile_decode, summarize
from symnet_core.model.symnet import SymNet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="symnet-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1],
                        help="torch intra-op thread counts, measured one after the other (default 1)")  # fmt: skip
    parser.add_argument("--shots", type=int, nargs="*", default=[1, 5], help="shot counts (none: skip the speed part)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before each per-query measurement")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1], help="queries per forward, e.g. 1 4 16")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=("fp32", "bf16", "fp16"),
                        help="fp32 is always measured; bf16 = the fast mode (autocast); fp16: CUDA only")  # fmt: skip
    parser.add_argument("--image-size", type=int, default=473, help="model input S (473 PASCAL, 641 COCO)")
    parser.add_argument("--layers", type=int, default=50, choices=(50, 101))
    parser.add_argument("--checkpoint", help="time this checkpoint instead of seed-generated weights")
    parser.add_argument("--query-size", type=int, nargs=2, default=(375, 500), metavar=("H", "W"))
    parser.add_argument("--profile", action="store_true", help="profile the decode (first thread count)")
    parser.add_argument("--agreement", action="store_true", help="mask agreement of the fast mode with fp32")
    parser.add_argument("--agreement-checkpoint", help="synthetic-data checkpoint (default: the bundled demo model)")
    parser.add_argument("--agreement-queries", type=int, default=50, help="query images per held-out class")
    parser.add_argument("--agreement-seed", type=int, default=2024)
    parser.add_argument("--agreement-threads", type=int, help="threads for the agreement (default: the first)")
    gpu = parser.add_argument_group("GPU (--device cuda; symnet_core/benchmarks/gpu.py)")
    gpu.add_argument("--device", default="cpu", help="cpu, or cuda[:N] (symnet_core.benchmarks.gpu)")
    gpu.add_argument("--image-sizes", type=int, nargs="+", default=[473, 641], help="model input sizes")
    gpu.add_argument("--propagation", type=int, default=0, metavar="N",
                     help="end-to-end propagation of N demo images (0: skip)")  # fmt: skip
    gpu.add_argument("--propagation-batch", type=int, default=16)
    gpu.add_argument("--backbone-width", type=int, help="narrower model (tests); default: the full ResNet")
    parser.add_argument("--json", help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    if args.device != "cpu":
        return _main_gpu(args)
    if "fp16" in args.precisions:
        parser.error("fp16 autocast needs --device cuda")
    precisions = tuple(dict.fromkeys(["fp32", *args.precisions]))
    batch_sizes = tuple(sorted(set(args.batch_sizes)))
    if min(batch_sizes) < 1 or min(args.threads) < 1:
        parser.error("batch sizes and thread counts must be ≥ 1")
    torch.set_flush_denormal(True)
    results: dict[str, object] = {
        "command": "symnet-bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            **cpu_features(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        },
        "image_size": args.image_size,
        "layers": args.layers,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "query_size": list(args.query_size),
        "batch_sizes": list(batch_sizes),
        "precisions": list(precisions),
        "threads": {},
    }
    models: dict[int, SymNet] = {}
    per_thread: dict[str, dict[str, object]] = results["threads"]  # type: ignore[assignment]
    for t in args.threads if args.shots else []:
        torch.set_num_threads(t)
        entry: dict[str, object] = {"threads": torch.get_num_threads(), "shots": {}}
        per_thread[str(t)] = entry
        for k in args.shots:
            model = models.setdefault(k, build_model(args, k))
            r = bench_shots(model, k, args.repeats, tuple(args.query_size), batch_sizes=batch_sizes,
                            precisions=precisions, warmup=args.warmup)  # fmt: skip
            entry["shots"][str(k)] = r  # type: ignore[index]
            print(json.dumps({"threads": t, f"{k}-shot": r}), file=sys.stderr, flush=True)  # noqa: T201
    if per_thread:
        results["summary"] = summarize(per_thread, precisions)
    if args.profile and args.shots:
        torch.set_num_threads(args.threads[0])
        results["profile"] = {"threads": args.threads[0]}
        for k in args.shots:
            model = models.setdefault(k, build_model(args, k))
            results["profile"][str(k)] = profile_decode(model, k, tuple(args.query_size))  # type: ignore[index]
    models.clear()
    if args.agreement:
        from symnet_core.inference.loading import default_checkpoint

        ckpt = args.agreement_checkpoint or default_checkpoint()
        if not ckpt:
            parser.error("--agreement needs --agreement-checkpoint (no bundled demo model)")
        torch.set_num_threads(args.agreement_threads or args.threads[0])
        fast = next((p for p in precisions if p != "fp32"), "bf16")
        results["agreement"] = agreement_from_checkpoint(ckpt, args.agreement_queries, fast, args.agreement_seed)
        results["agreement"]["threads"] = torch.get_num_threads()  # type: ignore[index]
    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]  # type: ignore[index]
    print(json.dumps(results, indent=2))  # noqa: T201
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


def _main_gpu(args: argparse.Namespace) -> int:
    from symnet_core.benchmarks import gpu as bench_gpu
    from symnet_core.inference.loading import default_checkpoint

    demo = args.agreement_checkpoint or (default_checkpoint() if args.agreement or args.propagation else None)
    results = bench_gpu.run(
        args.device, image_sizes=tuple(args.image_sizes), batch_sizes=tuple(sorted(set(args.batch_sizes))),
        precisions=tuple(dict.fromkeys(["fp32", *args.precisions])), layers=args.layers,
        query_hw=tuple(args.query_size), repeats=args.repeats, warmup=args.warmup,
        model_overrides={"backbone_width": args.backbone_width} if args.backbone_width else None,
        demo_checkpoint=demo, propagation=args.propagation, propagation_batch=args.propagation_batch,
        agreement_queries=args.agreement_queries if args.agreement else 0, agreement_seed=args.agreement_seed,
        say=lambda s: print(s, file=sys.stderr, flush=True),  # noqa: T201
    )  # fmt: skip
    results["command"] = "symnet-bench " + " ".join(sys.argv[1:])
    print(json.dumps(results, indent=2))  # noqa: T201
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
