"""Benchmark: peak memory of propagating one huge JPEG (default 20000 x 15000 = 300 MP, the size limit).

Makes, in a temporary folder, a project with one small painted support (640 x 480) and one
synthetic 300-megapixel JPEG, then runs the real headless command in a fresh process::

    python -m symnet_core.cli.annotate propagate --project DIR --threads T

and prints JSON: ``peak_rss_mb`` of that process (its own ``ru_maxrss`` from ``os.wait4``), exit code and
wall time, the decoded image size (``decoded_mb`` = W*H*3 bytes), and whether the written mask
reads back (``readback_ok``, in another fresh process, with its own ``readback_peak_rss_mb``).

Usage::

    python bench/bench_big_image.py > bench/results/big_image.json
    python bench/bench_big_image.py --width 8000 --height 6000   # smaller smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MAKE = r"""
import sys
import numpy as np
from PIL import Image, ImageDraw
from symnet_core.project import Project
Image.MAX_IMAGE_PIXELS = None  # the generator only writes the file
folder, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
small = Image.new("RGB", (640, 480), (40, 90, 40))
ImageDraw.Draw(small).ellipse((200, 120, 440, 360), fill=(220, 60, 40))
small.save(f"{folder}/a_support.jpg", quality=90)
big = Image.new("RGB", (w, h), (40, 90, 40))
d = ImageDraw.Draw(big)
for i in range(12):
    x, y, r = (i * 7919) % w, (i * 104729) % h, min(w, h) // 10
    d.ellipse((x - r, y - r, x + r, y + r), fill=(220, 60, 40))
big.save(f"{folder}/b_huge.jpg", quality=85)
del big, d
with Project.create(folder, classes=["blob"]) as p:
    m = np.zeros((480, 640), np.uint8)
    m[120:360, 200:440] = 1
    p.set_mask("a_support.jpg", m, status="support")
"""

READ = r"""
import json, resource, sys
from symnet_core.project import Project
with Project.open(sys.argv[1], read_only=True) as p:
    m = p.get_mask("b_huge.jpg")
    rec = p.image("b_huge.jpg")
print(json.dumps({"shape": None if m is None else list(m.shape), "status": str(rec.status),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=20000)
    ap.add_argument("--height", type=int, default=15000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="symnet-big-") as tmp:
        subprocess.run([sys.executable, "-c", MAKE, tmp, str(args.width), str(args.height)], check=True, env=_env())
        cmd = [sys.executable, "-m", "symnet_core.cli.annotate", "propagate", "--project", tmp,
               "--threads", str(args.threads)]
        t0 = time.perf_counter()
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            child = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=_env())
            _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage (ru_maxrss in KiB)
            child.returncode = os.waitstatus_to_exitcode(status)
            wall = time.perf_counter() - t0
            out.seek(0)
            stdout = out.read()
            err.seek(0)
            stderr = err.read()
        peak = usage.ru_maxrss
        read = subprocess.run([sys.executable, "-c", READ, tmp], capture_output=True, text=True, env=_env())
        back = json.loads(read.stdout) if read.returncode == 0 else {"error": read.stderr.strip()[-300:]}
    result = {
        "command": " ".join(["python", "-m", "symnet_core.cli.annotate", *cmd[3:5], "DIR", *cmd[6:]]),
        "image": f"{args.width}x{args.height} JPEG",
        "megapixels": args.width * args.height / 1e6,
        "decoded_mb": round(args.width * args.height * 3 / 2**20, 1),
        "exit_code": child.returncode,
        "stdout": stdout.strip()[-300:],
        "stderr_tail": stderr.strip()[-300:],
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "readback_ok": back.get("shape") == [args.height, args.width],
        "readback_peak_rss_mb": round(back.get("peak_rss_mb", float("nan")), 1),
        "python": sys.version.split()[0],
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
