"""Benchmark: end-to-end headless propagation of a folder (decode + model + postprocess + save).

Creates N real JPEG files (640×480 synthetic scenes) in a temporary folder, makes a project
with one painted support, then runs :func:`symnet_core.propagation.propagate_project` in a fresh
subprocess and reports, as JSON:

* ``images_per_s`` over the whole run;
* ``stage_share``: the share of wall time in decoding (``Project.read_image``), the predictor
  (letterbox + model + mapping back + score; ``model_s`` of it inside the network) and saving
  (``Project.store_prediction``); the rest is bookkeeping;
* ``rss_mb``: resident memory sampled after every image — ``first``, ``max`` and ``last`` show
  whether memory stays flat (results are streamed to disk; nothing may accumulate).

Usage::

    python bench/bench_propagation.py --n 1000 --checkpoint resources/demo/demo_model.pth
    python bench/bench_propagation.py --n 200 --random-r50   # full-size ResNet-50 at 473, seeded weights

``--threads`` sets torch's intra-op threads (default 2 = the whole machine here).
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
import json, resource, sys, time
import numpy as np, torch
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
from symnet_core.project import Project
from symnet_core.propagation import propagate_project
from symnet_core.predictor import Predictor

if args["random_r50"]:
    from symnet_core import SymNet, SymNetConfig
    from symnet_core.random_weights import seeded_state_dict
    model = SymNet(SymNetConfig()); model.load_state_dict(seeded_state_dict(model.state_dict(), 0)); model.eval()
    torch.set_flush_denormal(True)
    make = lambda: Predictor(model, "cpu")
else:
    from symnet_core.runtime import load_predictor
    loaded = load_predictor(args["checkpoint"], device="cpu")
    make = loaded.new_predictor

timers = {"decode": 0.0, "predict": 0.0, "model": 0.0, "save": 0.0}
def timed(obj, name, bucket):
    fn = getattr(obj, name)
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            timers[bucket] += time.perf_counter() - t
    setattr(obj, name, wrapper)

rss = []
def progress(done, total, key):
    rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

def factory():
    p = make()
    timed(p, "predict", "predict")
    timed(p.model, "encode_query", "model")
    timed(p.model, "decode", "model")
    return p

with Project.open(args["root"]) as project:
    timed(project, "read_image", "decode")
    timed(project, "store_prediction", "save")
    t0 = time.perf_counter()
    report = propagate_project(project, factory, scope="unlabelled", progress=progress, max_side=args["max_side"])
    wall = time.perf_counter() - t0
n = len(report.predicted)
print(json.dumps({
    "images": n, "wall_s": round(wall, 2), "images_per_s": round(n / wall, 3),
    "stage_share": {k: round(v / wall, 3) for k, v in timers.items()},
    "note": "model is part of predict; decode includes the supports' decode",
    "rss_mb": {"first": round(rss[0], 1), "max": round(max(rss), 1), "last": round(rss[-1], 1),
               "at_10pct": round(rss[len(rss) // 10], 1)},
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
    args = ap.parse_args()
    import cv2
    import numpy as np

    from symnet_core.project import Project
    from symnet_core.runtime import default_checkpoint

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
                              "threads": args.threads, "max_side": args.max_side})
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, payload], capture_output=True, text=True, check=False)
        if out.returncode:
            sys.stderr.write(out.stderr)
            return out.returncode
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["process_s"] = round(time.perf_counter() - t, 2)
        result["threads"] = args.threads
        result["model"] = "random ResNet-50 @473" if args.random_r50 else ckpt
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
