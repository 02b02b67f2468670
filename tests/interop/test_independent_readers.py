"""Each export read back by a reader that is not ours, compared with the project's masks.

In the suite (installed with the project): pycocotools for COCO, torchvision's ``VOCSegmentation`` for Pascal VOC.
Datumaro (CVAT, VOC, COCO) and labelme's own loader (``SYMNET_INTEROP_PYTHON``), and ultralytics (YOLO,
``SYMNET_ULTRALYTICS_PYTHON``) pin opencv<5 / pillow 12 / PyQt5 / opencv-python + torch, so they cannot join the
project's venv: they run in separate interpreters made by ``scripts/make_interop_venvs.sh``, through
``scripts/interop_check.py``; without them those cases are skipped. With ``SYMNET_INTEROP_RECORD=DIR`` each
result is also written to ``DIR/<format>.json`` (docs/interop/ holds the committed run).
See docs/export-formats.md, "Independent readers".
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from symnet_core.io import CocoExportOptions, write_coco
from symnet_core.io.interop import InstanceExportOptions
from symnet_core.io.registry import write_format
from tests.interop.edge_cases import CLASSES, categories, edge_masks, export_images, write_images

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {k: m for k, m in edge_masks().items() if m is not None}


@pytest.fixture(scope="module")
def image_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("images")
    write_images(root)
    return root


@pytest.mark.parametrize("polygons", [False, True])
def test_pycocotools_reads_the_coco_export(tmp_path, polygons):
    path = tmp_path / "instances.json"
    write_coco(path, export_images(), categories(), options=CocoExportOptions(polygons=polygons))
    coco = COCO(str(path))
    seen = set()
    for img in coco.dataset["images"]:
        got = np.zeros((img["height"], img["width"]), np.uint8)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
        for ann in sorted(anns, key=lambda a: -float(mask_utils.area(coco.annToRLE(a)))):
            got[coco.annToMask(ann).astype(bool)] = ann["category_id"]
        assert np.array_equal(got, EXPECTED[img["file_name"]]), img["file_name"]
        seen.add(img["file_name"])
    assert seen == set(EXPECTED)


def test_torchvision_reads_the_voc_export(image_root, tmp_path):
    from symnet_core._compat.torchvision import ensure_torchvision_importable

    ensure_torchvision_importable()  # the CPU machines' torchvision wheel lacks its C++ ops (ADR 0001)
    from torchvision.datasets import VOCSegmentation

    jpeg_only = tuple(k for k in EXPECTED if k.endswith(".jpg"))  # torchvision opens JPEGImages/<id>.jpg
    voc_root = tmp_path / "VOCdevkit" / "VOC2012"
    write_format("voc", voc_root, export_images(jpeg_only), categories(), options=InstanceExportOptions(),
                 images_root=image_root, image_set="train")
    ds = VOCSegmentation(str(tmp_path), year="2012", image_set="train", download=False)
    assert len(ds) == len(jpeg_only)
    for i, name in enumerate(jpeg_only):
        image, target = ds[i]
        assert target.mode == "P"
        assert image.size == target.size == (EXPECTED[name].shape[1], EXPECTED[name].shape[0])
        assert np.array_equal(np.array(target), EXPECTED[name]), name  # class index = project order = id here


def _interop_python(fmt: str) -> str | None:
    exe = os.environ.get("SYMNET_ULTRALYTICS_PYTHON" if fmt == "yolo" else "SYMNET_INTEROP_PYTHON")
    return exe if exe and Path(exe).is_file() else None


@pytest.mark.parametrize("fmt", ["cvat", "voc", "coco", "labelme", "yolo"])
def test_foreign_tools_read_the_export(fmt, image_root, tmp_path):
    exe = _interop_python(fmt)
    if exe is None:
        if os.environ.get("CI"):  # .ci/run builds the reader venvs: there a missing reader is a failure
            pytest.fail("CI=true but the interop reader venvs are missing (.ci/run runs scripts/make_interop_venvs.sh)")
        pytest.skip("needs SYMNET_INTEROP_PYTHON (datumaro, labelme) / SYMNET_ULTRALYTICS_PYTHON (ultralytics): "
                    "scripts/make_interop_venvs.sh")
    out = tmp_path / fmt
    if fmt == "coco":  # Datumaro's COCO layout: annotations/instances_<subset>.json + images/
        write_coco(out / "annotations" / "instances_default.json", export_images(), categories())
        write_format("cvat", tmp_path / "img", export_images(), categories(), images_root=image_root)
        (tmp_path / "img" / "images").rename(out / "images")
    else:
        write_format(fmt, out, export_images(), categories(), images_root=image_root)
    npz = tmp_path / "expected.npz"
    np.savez(npz, names=np.array(CLASSES), **EXPECTED)
    env = {**os.environ, "YOLO_CONFIG_DIR": str(tmp_path / "ultralytics-settings"), "YOLO_OFFLINE": "1"}
    proc = subprocess.run([exe, str(REPO / "scripts" / "interop_check.py"), fmt, str(out), str(npz)],
                          capture_output=True, text=True, timeout=300, check=False, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if fmt == "labelme":  # labelme refuses to open 16-bit PNG images (mode I;16); the JSON is not the problem
        assert set(result["reader_errors"]) == {"deep16.json"}
        assert result["missing"] == ["deep16.png"]
    else:
        assert result["missing"] == []
    assert result["min_iou"] >= (1.0 if fmt in ("voc", "coco") else 0.98), result
    if os.environ.get("SYMNET_INTEROP_RECORD"):
        record = Path(os.environ["SYMNET_INTEROP_RECORD"]) / f"{fmt}.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
