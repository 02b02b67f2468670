"""Issue #20: ``kill -9`` in the middle of a PNG export and of an import loses nothing.

The child process SIGKILLs itself inside its N-th ``os.write`` (half of the bytes written), N drawn
at random (printed on failure): the crash lands inside a mask or journal write, with a temporary
file on disk — the worst moment. The pattern follows the kill -9 propagation test in
``test_propagation_loop.py``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from symnet_core.cli.annotate import main
from symnet_core.io import import_coco
from symnet_core.project import ImageStatus, Project

ROOT = Path(__file__).resolve().parents[2]

KILL_AT_WRITE = r"""
import os, signal, sys
n, argv = int(sys.argv[1]), sys.argv[2:]
real, calls = os.write, [0]
def write(fd, data):
    calls[0] += 1
    if calls[0] == n:
        real(fd, bytes(data)[: max(1, len(data) // 2)])
        os.kill(os.getpid(), signal.SIGKILL)
    return real(fd, data)
os.write = write
from symnet_core.cli.annotate import main
sys.exit(main(argv))
"""

N = 8


def _kill_during(n: int, argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", KILL_AT_WRITE, str(n), *argv], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)


def _images(root: Path) -> None:
    root.mkdir(parents=True)
    for i in range(N):
        Image.new("RGB", (40, 30), (i * 20, 0, 0)).save(root / f"im{i}.png")


def _masks() -> list[np.ndarray]:
    out = []
    for i in range(N):
        m = np.zeros((30, 40), np.uint8)
        m[2 + i : 20, 3 : 10 + 3 * i] = 1 + i % 2
        out.append(m)
    return out


def test_kill_9_during_png_export_then_export_again(tmp_path: Path) -> None:
    root, out = tmp_path / "p", tmp_path / "out"
    _images(root)
    masks = _masks()
    with Project.create(root, classes=["a", "b"]) as p:
        for i, m in enumerate(masks):
            p.set_mask(f"im{i}.png", m, status="accepted")
    assert main(["export", "--project", str(root), "--format", "png", "--out", str(out)]) == 0
    first = {f: (out / "masks" / f).read_bytes() for f in os.listdir(out / "masks")}
    with Project.open(root) as p:  # change one mask so the second export rewrites files
        p.set_mask("im0.png", np.zeros((30, 40), np.uint8))
    n = random.Random(os.getpid()).randint(1, N)
    proc = _kill_during(n, ["export", "--project", str(root), "--format", "png", "--out", str(out)])
    assert proc.returncode == -signal.SIGKILL, (n, proc.stderr)
    temps = [p for p in out.rglob("*.tmp")]
    assert temps, n  # the crash left its temporary file
    for f, data in first.items():  # every mask file is its old or its new version, never torn
        cur = (out / "masks" / f).read_bytes()
        assert cur == data or f == "im0.png", (n, f)
    assert main(["export", "--project", str(root), "--format", "png", "--out", str(out)]) == 0
    assert not list(out.rglob("*.tmp")), n
    manifest = json.loads((out / "classes.json").read_text())
    assert len(manifest["images"]) == N
    for i in range(1, N):
        assert np.array_equal(np.asarray(Image.open(out / "masks" / f"im{i}.png")), masks[i])


def test_kill_9_during_import_keeps_what_was_imported_and_resumes(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _images(root)
    masks = _masks()
    with Project.create(root, classes=["a"]) as p:
        p.set_mask("im0.png", masks[0].clip(0, 1), status="support")
    human = masks[0].clip(0, 1)
    data = {"images": [{"id": i + 1, "file_name": f"im{i}.png", "width": 40, "height": 30} for i in range(1, N)],
            "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], "annotations": []}
    for i in range(1, N):
        for cid in (1, 2):
            ys, xs = np.nonzero(masks[i] == cid)
            if ys.size:
                x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
                data["annotations"].append({
                    "id": len(data["annotations"]) + 1, "image_id": i + 1, "category_id": cid, "iscrowd": 0,
                    "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]], "area": float((x1 - x0) * (y1 - y0)),
                    "bbox": [x0, y0, x1 - x0, y1 - y0]})
    coco = tmp_path / "c.json"
    coco.write_text(json.dumps(data))
    _, expected = import_coco(coco)
    n = random.Random(os.getpid()).randint(1, 2 * (N - 1))
    proc = _kill_during(n, ["import", "--project", str(root), "--coco", str(coco)])
    assert proc.returncode == -signal.SIGKILL, (n, proc.stderr)
    with Project.open(root) as p:  # stale lock taken over, journal replayed, temp files removed
        assert np.array_equal(p.get_mask("im0.png"), human)
        assert p.image("im0.png").status is ImageStatus.SUPPORT
        for r in p.images:
            if r.path != "im0.png" and r.mask is not None and not r.error:
                assert r.status is ImageStatus.ACCEPTED
                assert np.array_equal(p.get_mask(r.path), expected[r.path]), (n, r.path)
        assert not list(p.masks_dir.glob(".*.tmp"))
    assert main(["import", "--project", str(root), "--coco", str(coco)]) == 0
    with Project.open(root, read_only=True) as p:
        for i in range(1, N):
            assert np.array_equal(p.get_mask(f"im{i}.png"), expected[f"im{i}.png"]), n
        assert np.array_equal(p.get_mask("im0.png"), human)
