"""Issue #20: hostile inputs and hard faults through the real headless commands.

Each failure must end in one ``error:`` line naming the file, exit 2 for "could not run" and 1 for
"some images failed", no traceback, and nothing already saved lost. Full disks are simulated by a
fault injection at the atomic-write layer (``os.write`` raising ENOSPC), since tests cannot mount
a tiny file system.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from symnet_core.cli.annotate import main
from symnet_core.cli.propagate import output_names
from symnet_core.model.checkpoints import save_checkpoint
from symnet_core.project import ImageStatus, Project
from tests.model_helpers import scene, tiny_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    save_checkpoint(tiny_model(1), path, dataset="synthetic",
                    text_encoder={"kind": "hashed", "salt": "symnet-synthetic"})
    return path


def _one_error_line(err: str, command: str) -> str:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith(f"symnet-annotate {command}: error:")]
    assert len(lines) == 1, err
    return lines[0]


def inject_enospc(monkeypatch: pytest.MonkeyPatch, after: int) -> list[int]:
    """Fault injection: ``os.write`` succeeds ``after`` times, then fails with ENOSPC (disk full)."""
    real, calls = os.write, [0]

    def write(fd: int, data) -> int:
        calls[0] += 1
        if calls[0] > after:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)
    return calls


def _project(root: Path, n: int) -> list[np.ndarray]:
    root.mkdir(parents=True, exist_ok=True)
    masks = []
    for i in range(n):
        img, mask = scene(64, 80, seed=i)
        cv2.imwrite(str(root / f"img_{i:02d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        masks.append(mask.astype(np.uint8))
    with Project.create(root, classes=["blob"]) as p:
        p.set_mask("img_00.png", masks[0], status="support")
        p.set_mask("img_01.png", masks[1], status="accepted")
    return masks


# --- 3. COCO import validates first -------------------------------------------------------------


def _coco(images=None, anns=None, cats=None) -> dict:
    return {
        "images": images if images is not None else [{"id": 1, "file_name": "img_00.png", "width": 80, "height": 64}],
        "annotations": anns if anns is not None else [],
        "categories": cats if cats is not None else [{"id": 1, "name": "blob"}],
    }


def _poly(coords) -> dict:
    return {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [coords], "area": 10.0,
            "bbox": [0, 0, 5, 5], "iscrowd": 0}


BAD_COCO = {
    "huge coordinates": json.dumps(_coco(anns=[_poly([0, 0, 1e308, 0, 1e308, 1e308, 0, 5])])),
    "NaN coordinates": json.dumps(_coco(anns=[_poly([0, 0, float("nan"), 0, 5, 5])])),
    "malformed RLE": json.dumps(_coco(anns=[{**_poly([]), "segmentation": {"size": [64, 80], "counts": "!!~~"}}])),
    "RLE size mismatch": json.dumps(_coco(anns=[{**_poly([]), "segmentation": {"size": [10, 10], "counts": [100]}}])),
    "unknown image id": json.dumps(_coco(anns=[{**_poly([1, 1, 5, 1, 5, 5]), "image_id": 99}])),
    "unknown category": json.dumps(_coco(anns=[{**_poly([1, 1, 5, 1, 5, 5]), "category_id": 42}])),
    "absolute file name": json.dumps(_coco(images=[{"id": 1, "file_name": "/etc/passwd", "width": 8, "height": 8}])),
    "invalid JSON": '{"images": [',
    "not COCO": "[1, 2, 3]",
    "huge image size": json.dumps(_coco(images=[{"id": 1, "file_name": "img_00.png", "width": 10**9,
                                                 "height": 10**9}], anns=[_poly([1, 1, 5, 1, 5, 5])])),
}


@pytest.mark.parametrize("case", sorted(BAD_COCO))
def test_import_of_a_bad_coco_file_is_one_line_exit_2(tmp_path: Path, case: str) -> None:
    """In a subprocess: these files crashed the interpreter (rc 139 in pycocotools) before."""
    masks = _project(tmp_path / "p", 2)
    bad = tmp_path / "bad.json"
    bad.write_text(BAD_COCO[case])
    proc = subprocess.run([sys.executable, "-m", "symnet_core.cli.annotate", "import", "--project",
                           str(tmp_path / "p"), "--coco", str(bad)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == 2, (case, proc.stdout, proc.stderr)
    assert str(bad) in _one_error_line(proc.stderr, "import")
    with Project.open(tmp_path / "p", read_only=True) as p:  # nothing changed
        assert np.array_equal(p.get_mask("img_01.png"), masks[1])
        assert [c.name for c in p.classes] == ["blob"]


def test_import_keeps_free_category_ids(tmp_path: Path, capsys) -> None:
    root = tmp_path / "p"
    root.mkdir()
    for i in range(2):
        Image.new("RGB", (20, 10)).save(root / f"i{i}.png")
    data = {"images": [{"id": 1, "file_name": "i0.png", "width": 20, "height": 10}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "iscrowd": 0, "area": 25,
                             "bbox": [0, 0, 5, 5], "segmentation": [[0, 0, 5, 0, 5, 5, 0, 5]]}],
            "categories": [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}]}
    src = tmp_path / "c.json"
    src.write_text(json.dumps(data))
    assert main(["import", "--project", str(root), "--coco", str(src)]) == 0, capsys.readouterr()
    with Project.open(root, read_only=True) as p:
        assert {c.name: c.id for c in p.classes} == {"cat": 3, "dog": 7}
        assert set(np.unique(p.get_mask("i0.png"))) == {0, 7}
    # a second file whose id 3 is now "cat" in the project: names win, a clashing id is renumbered
    data["categories"] = [{"id": 3, "name": "bird"}, {"id": 7, "name": "dog"}]
    data["annotations"][0]["category_id"] = 3
    src.write_text(json.dumps(data))
    assert main(["import", "--project", str(root), "--coco", str(src)]) == 0
    out = capsys.readouterr().out
    assert "category 3 'bird' -> project class 8" in out
    with Project.open(root, read_only=True) as p:
        assert {c.name: c.id for c in p.classes} == {"cat": 3, "dog": 7, "bird": 8}


# --- 5. exit codes and hard faults ----------------------------------------------------------------


def test_import_on_a_locked_project_is_exit_2(tmp_path: Path, capsys) -> None:
    _project(tmp_path / "p", 2)
    coco = tmp_path / "c.json"
    coco.write_text(json.dumps(_coco()))
    with Project.open(tmp_path / "p"):
        rc = main(["import", "--project", str(tmp_path / "p"), "--coco", str(coco)])
    assert rc == 2
    assert "already open" in _one_error_line(capsys.readouterr().err, "import")


def test_import_on_a_damaged_project_is_exit_2(tmp_path: Path, capsys) -> None:
    _project(tmp_path / "p", 2)
    pfile = tmp_path / "p" / ".symnet" / "project.json"
    pfile.write_bytes(pfile.read_bytes()[:50])
    coco = tmp_path / "c.json"
    coco.write_text(json.dumps(_coco()))
    assert main(["import", "--project", str(tmp_path / "p"), "--coco", str(coco)]) == 2
    assert "project.json" in _one_error_line(capsys.readouterr().err, "import")


def test_full_disk_during_propagate_is_one_line_and_loses_nothing(tmp_path, checkpoint, monkeypatch, capsys):
    root = tmp_path / "p"
    masks = _project(root, 6)
    inject_enospc(monkeypatch, after=6)  # the run starts, a few results are saved, then the disk is full
    rc = main(["propagate", "--project", str(root), "--checkpoint", str(checkpoint), "--device", "cpu"])
    monkeypatch.undo()  # space freed
    assert rc == 2
    line = _one_error_line(capsys.readouterr().err, "propagate")
    assert "No space left on device" in line and "free some space" in line and str(root) in line
    with Project.open(root) as p:  # journal replayed, stale lock taken over
        assert np.array_equal(p.get_mask("img_01.png"), masks[1])
        for r in p.images:
            if r.status is ImageStatus.PREDICTED:
                assert p.get_mask(r.path).shape == (64, 80)
    assert main(["propagate", "--project", str(root), "--checkpoint", str(checkpoint), "--device", "cpu"]) == 0
    with Project.open(root, read_only=True) as p:
        assert sum(r.status is ImageStatus.PREDICTED for r in p.images) == 4


@pytest.mark.parametrize("fmt", ["png", "coco"])
def test_full_disk_during_export_is_one_line_exit_2(tmp_path, monkeypatch, capsys, fmt):
    root = tmp_path / "p"
    _project(root, 3)
    out = tmp_path / ("out" if fmt == "png" else "out.json")
    inject_enospc(monkeypatch, after=0)
    rc = main(["export", "--project", str(root), "--format", fmt, "--out", str(out)])
    monkeypatch.undo()
    assert rc == 2
    line = _one_error_line(capsys.readouterr().err, "export")
    assert "No space left on device" in line and str(out) in line
    assert not [p for p in tmp_path.rglob("*.tmp")]


def _truncate_mask(root: Path, key: str) -> Path:
    with Project.open(root, read_only=True) as p:
        path = p.masks_dir / p.image(key).mask
    path.write_bytes(path.read_bytes()[:40])
    return path


@pytest.mark.parametrize("fmt", ["png", "coco"])
def test_truncated_mask_is_reported_and_skipped_by_export(tmp_path, capsys, fmt):
    root = tmp_path / "p"
    masks = _project(root, 4)
    with Project.open(root) as p:
        p.set_mask("img_02.png", masks[2], status="accepted")
    _truncate_mask(root, "img_01.png")
    out = tmp_path / ("out" if fmt == "png" else "out.json")
    rc = main(["export", "--project", str(root), "--format", fmt, "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 1, text
    assert "img_01.png: skipped" in text and "cannot be read" in text
    if fmt == "png":
        manifest = json.loads((out / "classes.json").read_text())
        assert sorted(e["file_name"] for e in manifest["images"]) == ["img_00.png", "img_02.png"]
    else:
        assert sorted(i["file_name"] for i in json.loads(out.read_text())["images"]) == ["img_00.png", "img_02.png"]


# --- 4. folder-to-folder naming -----------------------------------------------------------------


def test_output_names_keep_the_extension_only_on_collision() -> None:
    names = output_names(["a.bmp", "a.webp", "b.png", "sub/c.jpg", "sub/C.png", "d.jpg"])
    assert names == {"a.bmp": "a.bmp.png", "a.webp": "a.webp.png", "b.png": "b.png", "sub/c.jpg": "sub/c.jpg.png",
                     "sub/C.png": "sub/C.png.png", "d.jpg": "d.png"}


def test_folder_mode_writes_one_mask_per_image_and_counts_them(tmp_path, checkpoint, capsys):
    sup, msk, img, out = (tmp_path / n for n in ("sup", "msk", "img", "out"))
    for d in (sup, msk, img):
        d.mkdir()
    rgb, mask = scene(64, 80, seed=1)
    Image.fromarray(rgb).save(sup / "s.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(msk / "s.png")
    for name in ("a.bmp", "a.webp", "huge.jpg", "huge.png", "b.png"):
        Image.fromarray(scene(64, 80, seed=len(name))[0]).save(img / name)
    threads = torch.get_num_threads()
    rc = main(["propagate", "--supports", str(sup), "--masks", str(msk), "--images", str(img), "--class", "blob",
               "--out", str(out), "--checkpoint", str(checkpoint), "--device", "cpu", "--threads", "1"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert sorted(os.listdir(out)) == ["a.bmp.png", "a.webp.png", "b.png", "huge.jpg.png", "huge.png.png"]
    assert "5/5 masks written" in text
    assert torch.get_num_threads() == 1
    torch.set_num_threads(threads)


def test_threads_must_be_positive(tmp_path, checkpoint, capsys) -> None:
    _project(tmp_path / "p", 2)
    rc = main(["propagate", "--project", str(tmp_path / "p"), "--threads", "0", "--checkpoint", str(checkpoint)])
    assert rc == 2
    assert "--threads" in _one_error_line(capsys.readouterr().err, "propagate")
