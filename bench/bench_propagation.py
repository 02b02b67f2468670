"""Benchmark: end-to-end headless propagation of a folder (decode + model + postprocess + save).

Creates N real JPEG files (640×480 synthetic scenes) in a temporary folder, makes a project
with one painted support, then runs :func:`symnet_core.workflows.propagation.propagate_project` in a fresh
subprocess and reports, as JSON:

* ``images_per_s`` over the whole run, and ``per_image_ms`` by stage;
* ``stage_share``: the share of wall time in decoding (``Project.read_image``), the predictor
  (letterbox + model + mapping back + score; ``model`` of it inside the network) and saving
  (``Project.store_prediction``); ``other`` is the rest (bookkeeping, progress);
* ``rss_mb``: current resident memory (``/proc/self/statm``) sampled after every image —
  ``first``, ``at_10pct``, ``at_50pct``, ``max``, ``last``; ``peak_rss_mb``: the high-water mark
  (``ru_maxrss``) at the first image, at 10 % and at the end; ``flat`` is true when neither grew
  after the first 10 % of the images by more than max(16 MB, 2 %) (results are streamed to disk;
  nothing may accumulate; meaningful for runs of hundreds of images, not for smoke runs).

Usage::

    python bench/bench_propagation.py --n 1000 --checkpoint symnet_core/assets/demo/demo_model.pth
    python bench/bench_propagation.py --n 200 --random-r50   # full-size ResNet-50 at 473, seeded weights

``--threads`` sets torch's intra-op threads (default 2 = the whole machine here); ``--batch-size``
is propagation's (``predict_many``) batch size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, os, resource, sys, time
import numpy as np, torch
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
from symnet_core.project import Project
from symnet_core.workflows.propagation import propagate_project
from symnet_core.inference.predictor import Predictor

if args["random_r50"]:
    from symnet_core import SymNet, SymNetConfig
    from symnet_core.model.seeded_weights import seeded_state_dict
    model = SymNet(SymNetConfig()); model.load_state_dict(seeded_state_dict(model.state_dict(), 0)); model.eval()
    torch.set_flush_denormal(True)
    make = lambda: Predictor(model, "cpu")
else:
    from symnet_core.inference.loading import load_predictor
    loaded = load_predictor(args["checkpoint"], device="cpu")
    make = loaded.new_predictor

timers = {"decode": 0.0, "predict": 0.0, "model": 0.0, "save": 0.0}
depth = dict.fromkeys(timers, 0)
def timed(obj, name, bucket):
    fn = getattr(obj, name)
    def wrapper(*a, **k):
        depth[bucket] += 1  # only the outermost call counts (predict calls predict_many)
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            depth[bucket] -= 1
            if not depth[bucket]:
                timers[bucket] += time.perf_counter() - t
    setattr(obj, name, wrapper)

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20
def rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_MB
rss, peak = [], []
def progress(done, total, key):
    rss.append(rss_now())
    peak.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

def factory():
    p = make()
    timed(p, "predict", "predict")
    timed(p, "predict_many", "predict")
    timed(p.model, "encode_query", "model")
    timed(p.model, "decode", "model")
    return p

with Project.open(args["root"]) as project:
    timed(project, "read_image", "decode")
    timed(project, "store_prediction", "save")
    t0 = time.perf_counter()
    report = propagate_project(project, factory, scope="unlabelled", progress=progress, max_side=args["max_side"],
                               batch_size=args["batch_size"])
    wall = time.perf_counter() - t0
n = len(report.predicted)
share = {k: round(v / wall, 3) for k, v in timers.items()}
share["other"] = round(1 - (timers["decode"] + timers["predict"] + timers["save"]) / wall, 3)
i10, i50 = len(rss) // 10, len(rss) // 2
tol = lambda base: max(16.0, 0.02 * base)
print(json.dumps({
    "images": n, "failed": len(report.failed), "wall_s": round(wall, 2), "images_per_s": round(n / wall, 3),
    "per_image_ms": {k: round(1000 * v / max(n, 1), 1) for k, v in timers.items()},
    "stage_share": share,
    "note": "model is part of predict; decode includes the supports' decode",
    "rss_mb": {"first": round(rss[0], 1), "at_10pct": round(rss[i10], 1), "at_50pct": round(rss[i50], 1),
               "max": round(max(rss), 1), "last": round(rss[-1], 1)},
    "peak_rss_mb": {"first": round(peak[0], 1), "at_10pct": round(peak[i10], 1), "end": round(peak[-1], 1)},
    "growth_after_10pct_mb": {"rss": round(rss[-1] - rss[i10], 1), "peak": round(peak[-1] - peak[i10], 1)},
    "flat": bool(peak[-1] - peak[i10] <= tol(peak[i10]) and rss[-1] - rss[i10] <= tol(rss[i10])),
}))
"""


def make_folder(root: Path, n: int) -> None:
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    for i in range(n):
        img = rng.integers(0, 90, (480, 640, 3), dtype=np.uint8)
        cy, cx = rng.integers(120, 360), rng.integers(160, 480)
        cv2.ellipse(img, (int(cx), int(cy)), (90, 60), float(rng.integers(0, 180)), 0, 360, (230, 180, 40), -1)
        cv2.imwrite(str(root / f"img_{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--checkpoint", help="model file (default: the bundled demo model)")
    ap.add_argument("--random-r50", action="store_true", help="full-size ResNet-50 at 473 with seeded weights")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-side", type=int, default=1024)
    ap.add_argument("--batch-size", type=int, default=1, help="propagation batch size (predict_many)")
    args = ap.parse_args()
    import cv2
    import numpy as np

    from symnet_core.inference.loading import default_checkpoint
    from symnet_core.project import Project

    ckpt = args.checkpoint or default_checkpoint()
    if not args.random_r50 and not ckpt:
        ap.error("no --checkpoint and no bundled demo model")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_folder(root, args.n)
        first = cv2.cvtColor(cv2.imread(str(root / "img_00000.jpg")), cv2.COLOR_BGR2RGB)
        mask = (first[..., 2] > 200).astype(np.uint8)
        with Project.create(root, classes=["ellipse"]) as project:
            project.set_mask("img_00000.jpg", mask)
            project.set_support("img_00000.jpg")
        payload = json.dumps({"root": str(root), "checkpoint": ckpt, "random_r50": args.random_r50,
                              "threads": args.threads, "max_side": args.max_side, "batch_size": args.batch_size})
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, payload], capture_output=True, text=True, check=False)
        if out.returncode:
            sys.stderr.write(out.stderr)
            return out.returncode
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["process_s"] = round(time.perf_counter() - t, 2)
        result["threads"] = args.threads
        result["batch_size"] = args.batch_size
        result["model"] = "random ResNet-50 @473" if args.random_r50 else ckpt
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
