"""Benchmark: propagation on Ray (issue #16) against the serial engine, on the bundled demo model.

Writes ``--n`` demo scenes (:func:`symnet_core.training.synthetic.demo_folder.make_demo_folder`),
one support, and propagates them into fresh projects with

* ``serial``: :func:`propagate_project` in this process, torch on ``--cores`` threads;
* ``serial_1thread``: the same on one thread (on a heavily loaded machine torch's multi-threaded
  CPU kernels can be many times slower than one thread: both baselines are reported);
* ``ray_1x{cores}``: one Ray actor with ``--cores`` threads;
* ``ray_{cores}x1``: ``--cores`` actors with one thread each,

all on a local Ray started with ``num_cpus=--cores`` (equal cores). Per run: ``wall_s`` (call to
return, including Ray's actor start and model load), ``steady_images_per_s`` (committed
results from the 10 % mark to the last), ``images_per_s`` (whole call), ``first_result_s``
(start-up: supports, model load, actors). ``ray_overhead`` compares each Ray run's
rates with each serial run's (``<ray run>_vs_<serial run>``; positive = slower than serial).
Ray's output iterator hands results over in bursts, so its ``steady`` rate flatters Ray: compare
``images_per_s`` (whole call, start-up included). Then

* ``driver_memory``: a ``ray_{cores}x1`` run over ``--mem-n`` images, the driver's RSS
  (``/proc/self/statm``) sampled every 1 % of the images; ``flat`` when it grew by at most
  max(16 MB, 2 %) after the first 10 %;
* ``commit``: the driver's commit rate alone — decoding the PNG a worker sends and storing it
  through the serial path's committer (mask PNG + journal fsync), ``masks_per_s`` over the masks
  of the serial run, committed ``--commit-repeat`` times into fresh projects.

Usage (prints JSON; ``--json PATH`` also writes it)::

    python bench/bench_distributed.py --n 200 --mem-n 2000 --json docs/perf/distributed-cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _project(src: Path, dst: Path):
    from symnet_core.project import Project

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".symnet"))
    p = Project.create(dst, classes=["demo"])
    mask = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(src / ".supports" / "demo_000.png"))
    p.set_mask("demo_000.png", (mask > 0).astype(np.uint8), status="support")
    return p


class _Clock:
    def __init__(self, every: int = 0) -> None:
        self.times: list[float] = []
        self.every, self.rss = every, []

    def __call__(self, done: int, total: int, key: str) -> None:
        self.times.append(time.perf_counter())
        if self.every and (done % self.every == 0 or done == total):
            self.rss.append(round(_rss_mb(), 1))

    def steady(self) -> float:
        """Images/s from the result at 10 % to the last one (leaves out model loading and start-up)."""
        k = len(self.times) // 10
        span = self.times[-1] - self.times[k]
        return (len(self.times) - 1 - k) / span if span > 0 else float("nan")

    def first_result_s(self, t0: float) -> float:
        return round(self.times[0] - t0, 2) if self.times else float("nan")


def _run(name: str, src: Path, work: Path, ckpt: str, cores: int, workers: int, threads: int,
         rss_every: int = 0) -> tuple[dict, _Clock]:
    """One propagation into a fresh project; ``workers=0`` is the serial engine."""
    from symnet_core.inference.loading import load_predictor
    from symnet_core.workflows.distributed.ray_engine import RayOptions, propagate_project_ray
    from symnet_core.workflows.distributed.worker import ModelOptions
    from symnet_core.workflows.propagation import propagate_project

    clock = _Clock(rss_every)
    with _project(src, work / name) as p:
        t0 = time.perf_counter()
        if workers == 0:
            torch.set_num_threads(cores)
            report = propagate_project(p, load_predictor(ckpt, device="cpu").new_predictor, progress=clock)
        else:
            report = propagate_project_ray(p, ModelOptions(ckpt, device="cpu"), RayOptions(workers, threads),
                                           progress=clock)
        wall = time.perf_counter() - t0
    n = len(report.predicted)
    if n != report.total or report.failed:
        raise RuntimeError(f"{name}: {report.summary()}")
    return {
        "engine": "serial" if workers == 0 else "ray",
        "workers": workers or 1,
        "threads_per_worker": cores if workers == 0 else threads,
        "images": n,
        "wall_s": round(wall, 2),
        "images_per_s": round(n / wall, 3),
        "steady_images_per_s": round(clock.steady(), 3),
        "first_result_s": clock.first_result_s(t0),
    }, clock


def _commit_rate(masks_from: Path, src: Path, work: Path, repeat: int) -> dict:
    """Masks/s the driver commits: decode the worker's PNG, then the serial path's commit."""
    from symnet_core.project import Project
    from symnet_core.workflows.contracts import PropagationReport
    from symnet_core.workflows.distributed.worker import decode_mask, encode_mask
    from symnet_core.workflows.prediction_steps import LabelResult
    from symnet_core.workflows.run_book import Committer

    with Project.open(masks_from, read_only=True) as done:
        payload = [(r.path, encode_mask(done.get_mask(r.path)), r.confidence or 0.0)
                   for r in done.images if r.status.value == "predicted"]
    rates = []
    for k in range(repeat):
        with _project(src, work / f"commit{k}") as p:
            run = p.start_run(scope="unlabelled", fingerprint="bench", model="bench", threshold=None, classes=(1,))
            committer = Committer.for_project(p, run.id, "bench", PropagationReport(run.id, "unlabelled"))
            t0 = time.perf_counter()
            for key, png, conf in payload:
                committer.add(LabelResult(key, decode_mask(png), conf))
            rates.append(len(payload) / (time.perf_counter() - t0))
    return {"masks": len(payload), "repeats": repeat, "masks_per_s_runs": [round(r, 1) for r in rates],
            "masks_per_s": round(statistics.median(rates), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="images per throughput run")
    ap.add_argument("--mem-n", type=int, default=2000, help="images of the driver-memory run (0: skip)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--commit-repeat", type=int, default=3)
    ap.add_argument("--checkpoint", help="default: the bundled demo model")
    ap.add_argument("--json", help="also write the JSON here")
    args = ap.parse_args()

    import ray

    from symnet_core.assets import demo_model_path
    from symnet_core.training.synthetic.demo_folder import make_demo_folder

    ckpt = str(args.checkpoint or demo_model_path())
    work = Path(tempfile.mkdtemp(prefix="symnet-bench-dist-"))
    try:
        src = work / "src"
        t0 = time.perf_counter()
        make_demo_folder(src, n_images=max(args.n, args.mem_n), n_supports=1)
        big = src
        small = work / "src_small"
        small.mkdir()
        for name in sorted(p.name for p in src.glob("demo_*.png"))[: args.n]:
            shutil.copy2(src / name, small / name)
        shutil.copytree(src / ".supports", small / ".supports")
        gen_s = time.perf_counter() - t0
        ray.init(num_cpus=args.cores, include_dashboard=False, log_to_driver=False)
        runs = {}
        clocks = {}
        configs = [("serial", 0, args.cores), ("serial_1thread", 0, 1), (f"ray_1x{args.cores}", 1, args.cores),
                   (f"ray_{args.cores}x1", args.cores, 1)]
        for name, workers, threads in configs:
            runs[name], clocks[name] = _run(name, small, work, ckpt, threads if workers == 0 else args.cores,
                                            workers, threads)
            print(json.dumps({name: runs[name]}), flush=True)
        overhead = {
            f"{name}_vs_{ref}": {
                "steady": round(1 - r["steady_images_per_s"] / runs[ref]["steady_images_per_s"], 3),
                "wall": round(1 - r["images_per_s"] / runs[ref]["images_per_s"], 3),
            }
            for ref in ("serial", "serial_1thread")
            for name, r in runs.items() if r["engine"] == "ray"
        }
        commit = _commit_rate(work / "serial", small, work, args.commit_repeat)
        memory = None
        if args.mem_n:
            every = max(1, args.mem_n // 100)
            mem_run, clock = _run("memory", big, work, ckpt, args.cores, args.cores, 1, rss_every=every)
            rss = clock.rss
            tenth = rss[max(0, len(rss) // 10 - 1)]
            memory = {
                **mem_run,
                "rss_mb_every": every,
                "rss_mb": rss,
                "rss_mb_at_10pct": tenth,
                "rss_mb_max": max(rss),
                "rss_mb_last": rss[-1],
                "flat": max(rss) - tenth <= max(16.0, 0.02 * tenth),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        ray.shutdown()
        out = {
            "command": " ".join(["python", "bench/bench_distributed.py", *sys.argv[1:]]),
            "benchmark": "bench/bench_distributed.py",
            "argv": {k: v for k, v in vars(args).items() if k != "json"},
            "checkpoint": Path(ckpt).name,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "torch": torch.__version__, "ray": ray.__version__,
                        "load_avg_at_end": [round(x, 1) for x in os.getloadavg()]},
            "demo_images_s": round(gen_s, 1),
            "runs": runs,
            "ray_overhead": overhead,
            "commit": commit,
            "driver_memory": memory,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
