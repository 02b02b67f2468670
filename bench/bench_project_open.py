"""Benchmark: open a folder of 10,000 images as a project (first time and again).

Creates N small real image files (PNG and JPEG, some in sub-folders) in a temporary folder,
then measures, in a fresh subprocess so the memory figure is the project's alone:

* ``open_s_first``  — ``Project.open_or_create`` on the folder without a project (scan,
  records, first ``project.json`` write);
* ``open_s_second`` — ``Project.open`` of the existing project (JSON parse + scan + reconcile);
* ``peak_rss_mb``   — peak resident memory of that subprocess;
* ``fill_sizes_s``  — header-only sizing of every image (what a background pass costs).

Usage: ``python bench/bench_project_open.py [--n 10000] [--keep DIR]``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_images(root: Path, n: int) -> None:
    from PIL import Image

    png = Image.new("RGB", (16, 12), (10, 120, 200))
    jpg = Image.new("RGB", (24, 16), (200, 120, 10))
    for i in range(n):
        sub = root / f"batch{i // 1000:02d}" if i % 2 else root
        sub.mkdir(exist_ok=True)
        if i % 3:
            png.save(sub / f"img{i:05d}.png", compress_level=1)
        else:
            jpg.save(sub / f"img{i:05d}.jpg", quality=70)


def measure(root: str) -> dict[str, float]:
    from symnet_core.project import Project

    t = time.perf_counter()
    p = Project.open_or_create(root, classes=["object"])
    first = time.perf_counter() - t
    n = len(p)
    p.close()
    t = time.perf_counter()
    p = Project.open(root)
    second = time.perf_counter() - t
    t = time.perf_counter()
    sized = p.fill_sizes()
    fill = time.perf_counter() - t
    p.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "images": n,
        "open_s_first": round(first, 3),
        "open_s_second": round(second, 3),
        "peak_rss_mb": round(rss_mb, 1),
        "fill_sizes_s": round(fill, 3),
        "sized": sized,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--keep", help="build the folder here instead of a temporary one")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp) / "images"
        root.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        make_images(root, args.n)
        made = time.perf_counter() - t
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(root)], check=True, capture_output=True, text=True
        )
        result = json.loads(out.stdout)
        result["make_images_s"] = round(made, 1)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
