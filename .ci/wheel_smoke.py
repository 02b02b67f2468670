"""Smoke test of an installed wheel (run by .ci/run with a second venv's python, from a temp folder).

Checks, using only what the wheel installed (never the source tree):
1. ``symnet_core`` / ``symnet_gui`` are imported from site-packages and the bundled demo model is there;
2. ``symnet-annotate --version`` prints the installed distribution's version;
3. a headless ``symnet-annotate propagate`` (folder to folder, the bundled demo model) on a folder
   made by the wheel's synthetic generator (6 query images of a held-out class, 1 support): the
   mean IoU of the output masks with the ground truth is > 0.5 (0.794 measured; per image 0.44-0.91);
4. ``symnet-annotate --demo`` offscreen starts, loads the demo model and quits
   (``SYMNET_EXIT_AFTER_MODEL_LOADED=1``).

Usage: ``python wheel_smoke.py REPO_ROOT`` (REPO_ROOT only to check nothing is imported from it).
Exits non-zero with a one-line reason on the first failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from PIL import Image

MIN_IOU = 0.5
TIMEOUT_S = 300


def fail(message: str) -> None:
    sys.stderr.write(f"wheel smoke: FAILED: {message}\n")
    raise SystemExit(1)


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, check=False)
    print(f"wheel smoke: {' '.join(cmd[:2])} ... exit {proc.returncode} in {time.monotonic() - start:.1f} s")
    if proc.returncode != 0:
        fail(f"{cmd} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    union = np.logical_or(pred, truth).sum()
    return float(np.logical_and(pred, truth).sum() / union) if union else 1.0


def main() -> None:
    repo = Path(sys.argv[1]).resolve()
    import symnet_core
    import symnet_gui
    from symnet_core.assets import demo_model_path
    from symnet_core.training.synthetic.generator import make_demo_folder

    for module in (symnet_core, symnet_gui):
        where = Path(module.__file__).resolve()
        if where.is_relative_to(repo) or not where.is_relative_to(Path(sys.prefix).resolve()):
            fail(f"{module.__name__} imported from {where}, not from this venv's site-packages")
    if not demo_model_path().is_file():
        fail(f"the wheel has no demo model at {demo_model_path()}")
    scripts = Path(sys.prefix) / ("Scripts" if os.name == "nt" else "bin")
    exe = shutil.which("symnet-annotate", path=str(scripts))
    if exe is None:
        fail(f"the symnet-annotate entry point is not installed in {scripts}")

    expected = version("symnet-annotate")
    out = run([exe, "--version"]).stdout.strip()
    if out != f"symnet-annotate {expected}":
        fail(f"--version printed {out!r}, expected 'symnet-annotate {expected}'")

    with tempfile.TemporaryDirectory(prefix="symnet-wheel-smoke-") as tmp:
        work = Path(tmp)
        demo = work / "demo"
        manifest = make_demo_folder(demo, n_images=7, n_supports=1)
        names = list(manifest["images"])
        support, targets = names[0], names[1:]
        for sub in ("supports", "masks", "images"):
            (work / sub).mkdir()
        shutil.copy(demo / support, work / "supports" / support)
        shutil.copy(demo / ".supports" / support, work / "masks" / support)
        for name in targets:
            shutil.copy(demo / name, work / "images" / name)
        run([exe, "propagate", "--supports", str(work / "supports"), "--masks", str(work / "masks"),
             "--images", str(work / "images"), "--class", str(manifest["class_name"]), "--out", str(work / "out"),
             "--device", "cpu", "--quiet"])
        scores = []
        for name in targets:
            pred_file = work / "out" / name
            if not pred_file.is_file():
                fail(f"propagate wrote no mask for {name}")
            pred = np.asarray(Image.open(pred_file)) > 0
            truth = np.asarray(Image.open(demo / ".groundtruth" / name)) > 0
            scores.append(iou(pred, truth))
        print(f"wheel smoke: propagate IoU per image {[round(s, 3) for s in scores]}, mean {np.mean(scores):.3f}")
        if float(np.mean(scores)) <= MIN_IOU:
            fail(f"mean IoU {np.mean(scores):.3f} <= {MIN_IOU}")

        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SYMNET_EXIT_AFTER_MODEL_LOADED": "1",
               "SYMNET_ANNOTATE_HOME": str(work / "home")}
        gui = run([exe, "--demo", "--device", "cpu"], env=env)
        if "model loaded" not in gui.stderr:
            fail(f"--demo exited without reporting a loaded model:\n{gui.stderr[-4000:]}")
    print("wheel smoke: OK")


if __name__ == "__main__":
    main()
