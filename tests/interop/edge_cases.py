"""A generated project with the edge cases every format must handle (docs/export-formats.md):
holes, an island inside a hole, 1- and 2-pixel objects, objects touching every border, an empty labelled
image, an unlabelled image, non-ASCII and spaces in file and class names, and grayscale, RGBA, 16-bit,
palette and JPEG sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from symnet_core.io.common import ExportCategory, ExportImage

CLASSES = ("cat", "dog", "spécial class")
H, W = 48, 64


def edge_masks() -> dict[str, np.ndarray | None]:
    """``{file name: label mask or None}`` (classes 1..3)."""
    a = np.zeros((H, W), np.uint8)
    a[5:30, 5:30] = 1  # donut of class 1 ...
    a[12:22, 12:22] = 0
    a[15:18, 15:18] = 2  # ... with an island of class 2 in its hole
    a[40, 40] = 3  # 1-pixel object
    a[44, 50] = 2  # 2-pixel diagonal object (8-connected: one object)
    a[45, 51] = 2
    a[0:6, 50:64] = 1  # touches the top and right borders
    a[42:48, 0:8] = 3  # touches the bottom-left corner
    a[5:30, 40:44] = 2  # a thin bar with two holes
    a[10, 41:43] = 0
    a[20:22, 42] = 0
    b = np.zeros((H, W), np.uint8)
    b[:, :] = 0
    b[10:40, 20:50] = 3  # big block touching nothing, with a 1-pixel hole
    b[25, 35] = 0
    b[0:H, 0:3] = 1  # full-height strip on the left border
    c = np.zeros((H, W), np.uint8)
    c[8:20, 30:60] = 2
    d = np.zeros((H, W), np.uint8)
    d[H - 1, W - 1] = 1  # 1 pixel in the bottom-right corner
    d[0, 0] = 2  # 1 pixel in the top-left corner
    return {
        "plain 01.jpg": a,
        "sub dir/ünïcode ✓ 02.jpg": b,
        "gray.jpg": c,
        "rgba.png": d,
        "deep16.png": c.copy(),
        "palette.png": a.copy(),
        "empty.jpg": np.zeros((H, W), np.uint8),
        "unlabelled.jpg": None,
    }


def write_images(root: Path) -> None:
    """Write the image files (content is noise; only size and mode matter)."""
    rng = np.random.default_rng(0)
    for name in edge_masks():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        rgb = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
        if name == "gray.jpg":
            Image.fromarray(rgb[..., 0]).save(p)
        elif name == "rgba.png":
            Image.fromarray(np.dstack([rgb, np.full((H, W), 200, np.uint8)])).save(p)
        elif name == "deep16.png":
            Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(p)
        elif name == "palette.png":
            Image.fromarray(rgb).convert("P").save(p)
        else:
            Image.fromarray(rgb).save(p)


def export_images(only: tuple[str, ...] | None = None) -> list[ExportImage]:
    return [ExportImage(k, W, H, m) for k, m in edge_masks().items() if only is None or k in only]


def categories() -> list[ExportCategory]:
    return [ExportCategory(i, n) for i, n in enumerate(CLASSES, start=1)]


def by_name(cats: list[ExportCategory], mask: np.ndarray) -> np.ndarray:
    """Remap a mask with the importer's provisional ids to this project's ids, by class name."""
    lut = np.zeros(max([int(c.id) for c in cats] + [int(mask.max())]) + 1, np.uint8)
    for c in cats:
        lut[int(c.id)] = CLASSES.index(c.name) + 1
    return lut[mask]


def class_iou(expected: np.ndarray, got: np.ndarray) -> float:
    """Smallest per-class IoU over the classes present in either mask (1.0 when both are empty)."""
    ious = []
    for cid in sorted(set(np.unique(expected).tolist()) | set(np.unique(got).tolist()) - {0}):
        if cid == 0:
            continue
        e, g = expected == cid, got == cid
        ious.append((e & g).sum() / max(1, (e | g).sum()))
    return float(min(ious)) if ious else 1.0
