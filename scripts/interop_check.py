"""Read an export with independent readers (Datumaro, labelme) and compare with the expected masks.

Runs in a SEPARATE interpreter that has ``datumaro`` and ``labelme`` (or, for ``yolo``, ``ultralytics``)
installed: they pin opencv<5 / pillow 12, pull PyQt5 or opencv-python and torch, so they cannot live in the
project's venv (see scripts/make_interop_venvs.sh). It imports nothing from this project. Usage::

    python scripts/interop_check.py FORMAT EXPORT_DIR EXPECTED.npz

``EXPECTED.npz`` holds ``names`` (class names, id = position + 1) and one ``HxW`` array per image, keyed by
the image's relative path. Prints one JSON object: ``{"format", "reader", "images": {name: min class IoU},
"missing": [...], "min_iou"}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path, PurePosixPath

import numpy as np


def _iou(expected: np.ndarray, got: np.ndarray) -> float:
    ious = []
    for cid in (set(np.unique(expected).tolist()) | set(np.unique(got).tolist())) - {0}:
        e, g = expected == cid, got == cid
        ious.append(float((e & g).sum()) / max(1, int((e | g).sum())))
    return min(ious) if ious else 1.0


def _match(name: str, expected: dict[str, np.ndarray]) -> str | None:
    if name in expected:
        return name
    p = str(PurePosixPath(name).with_suffix("")) if PurePosixPath(name).suffix else name
    for k in expected:
        kp = str(PurePosixPath(k).with_suffix(""))
        if p == kp or p.endswith("/" + kp):
            return k
    return None


def read_datumaro(fmt: str, root: Path, names: list[str]) -> dict[str, np.ndarray]:
    import datumaro as dm
    from datumaro.plugins.transforms import PolygonsToMasks

    dm_format = {"yolo": "yolo", "voc": "voc_segmentation", "cvat": "cvat",
                 "coco": "coco_instances"}[fmt]
    ds = dm.Dataset.import_from(str(root), dm_format)
    labels = ds.categories()[dm.AnnotationType.label]
    out: dict[str, np.ndarray] = {}
    for item in ds:
        h, w = item.media.size
        mask = np.zeros((h, w), np.int64)
        objs = []
        for ann in item.annotations:
            if ann.type in (dm.AnnotationType.polygon,):
                ann = PolygonsToMasks.convert_polygon(ann, h, w)
            if ann.type != dm.AnnotationType.mask or ann.label is None:
                continue
            name = labels[ann.label].name
            if name == "background":
                continue
            objs.append((ann.image.astype(bool), names.index(name) + 1))
        for m, cid in sorted(objs, key=lambda t: -int(t[0].sum())):
            mask[m] = cid
        out[item.id] = mask
    return out


def read_labelme(root: Path, names: list[str], errors: dict[str, str]) -> dict[str, np.ndarray]:
    from labelme import LabelFile
    from labelme.utils import shapes_to_label

    out: dict[str, np.ndarray] = {}
    for f in sorted(root.rglob("*.json")):
        try:
            lf = LabelFile(str(f))
        except Exception as e:  # report what the reader refuses, per file
            cause = e.__cause__ or e
            errors[f.relative_to(root).as_posix()] = f"{type(e).__name__} ({type(cause).__name__})"
            continue
        data = json.loads(f.read_text(encoding="utf-8"))
        h, w = data["imageHeight"], data["imageWidth"]
        value = {n: i for i, n in enumerate(names, start=1)}
        value["_background_"] = 0
        cls, _ = shapes_to_label((h, w), lf.shapes, value)
        rel = f.relative_to(root).with_name(PurePosixPath(data["imagePath"]).name).as_posix()
        out[rel] = cls
    return out


def read_ultralytics(root: Path, names: list[str], errors: dict[str, str]) -> dict[str, np.ndarray]:
    """ultralytics' own label check (``verify_image_label``) and rasteriser (``polygon2mask``, mask ratio 1)."""
    from ultralytics.data.utils import IMG_FORMATS, img2label_paths, polygon2mask, verify_image_label

    out: dict[str, np.ndarray] = {}
    images = sorted(p for p in (root / "images").rglob("*") if p.suffix.lower().lstrip(".") in IMG_FORMATS)
    for im, lb in zip(images, img2label_paths([str(p) for p in images]), strict=True):
        im_file, lb_arr, shape, segments, _kp, _nm, _nf, _ne, nc, msg = verify_image_label(
            (str(im), lb, "", False, len(names), 0, 0, False))
        rel = im.relative_to(root / "images").as_posix()
        if nc or im_file is None:
            errors[rel] = msg
            continue
        h, w = shape
        mask = np.zeros((h, w), np.int64)
        objs = [(polygon2mask((h, w), [seg * (w, h)], color=1).astype(bool), int(cls) + 1)
                for cls, seg in zip(lb_arr[:, 0], segments, strict=True)]
        for m, cid in sorted(objs, key=lambda t: -int(t[0].sum())):
            mask[m] = cid
        out[rel] = mask
    return out


def main(argv: list[str]) -> int:
    fmt, root, npz = argv[1], Path(argv[2]), np.load(argv[3])
    names = [str(n) for n in npz["names"]]
    expected = {k: npz[k] for k in npz.files if k != "names"}
    errors: dict[str, str] = {}
    if fmt == "labelme":
        got = read_labelme(root, names, errors)
    elif fmt == "yolo":  # Datumaro 1.13 reads YOLO detection only: its loader skips files of polygon rows
        got = read_ultralytics(root, names, errors)
    else:
        got = read_datumaro(fmt, root, names)
    images: dict[str, float] = {}
    for name, mask in got.items():
        key = _match(name, expected)
        if key is not None:
            images[key] = _iou(expected[key], mask)
    missing = sorted(set(expected) - set(images))
    reader = {"labelme": "labelme.LabelFile + labelme.utils.shapes_to_label",
              "yolo": "ultralytics.data.utils.verify_image_label + polygon2mask"}.get(fmt, f"datumaro ({fmt})")
    print(json.dumps({"format": fmt, "reader": reader, "images": images, "missing": missing, "reader_errors": errors,  # noqa: T201
                      "min_iou": min(images.values(), default=0.0)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
