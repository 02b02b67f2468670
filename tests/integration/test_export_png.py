"""PNG label-mask export: real files, read back with PIL and OpenCV."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from symnet_core.io import (
    ExportCategory,
    ExportImage,
    PngExportOptions,
    default_color,
    import_png_masks,
    load_png_classes,
    mask_relpath,
    write_png_masks,
)

CATS = [ExportCategory(1, "cell", (255, 0, 0)), ExportCategory(4, "nucleus")]

pytestmark = pytest.mark.filterwarnings(
    # pycocotools 2.0.11 under numpy 2.x warns on every decode (upstream; harmless today)
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def label_mask(h: int = 24, w: int = 32, ids: tuple[int, int] = (1, 4), dtype: type = np.uint8) -> np.ndarray:
    m = np.zeros((h, w), dtype)
    m[2:10, 3:12] = ids[0]
    m[5:7, 5:7] = 0
    m[15:, 20:] = ids[1]
    m[0, 0] = ids[1]
    return m


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.array(im)


def test_layout_classes_and_8bit_masks(tmp_path: Path) -> None:
    m = label_mask()
    images = [
        ExportImage("Ünï/子/画像 1.jpg", 32, 24, m),
        ExportImage("nested/a/b.tif", 32, 24, np.zeros((24, 32), np.uint8)),
        ExportImage("unlabelled.jpg", 32, 24, None),
    ]
    stats = write_png_masks(tmp_path, images, CATS)
    assert (stats.masks_written, stats.unlabelled_skipped, stats.bit_depth) == (2, 1, 8)
    p = tmp_path / "masks" / "Ünï" / "子" / "画像 1.png"
    with Image.open(p) as im:
        assert im.mode == "L"
    assert np.array_equal(read_png(p), m)
    assert not read_png(tmp_path / "masks/nested/a/b.png").any()  # labelled, empty: an all-zero PNG
    assert not (tmp_path / "masks/unlabelled.png").exists()  # unlabelled: no PNG at all
    manifest = json.loads((tmp_path / "classes.json").read_text(encoding="utf-8"))
    assert manifest["bit_depth"] == 8
    assert manifest["classes"] == [
        {"id": 1, "name": "cell", "color": [255, 0, 0]},
        {"id": 4, "name": "nucleus", "color": list(default_color(4))},
    ]
    assert manifest["unlabelled"] == ["unlabelled.jpg"]
    assert [e["mask"] for e in manifest["images"]] == ["masks/Ünï/子/画像 1.png", "masks/nested/a/b.png"]
    lines = (tmp_path / "labelmap.txt").read_text(encoding="utf-8").splitlines()
    assert lines[1:] == [
        "0\tbackground\t0,0,0",
        "1\tcell\t255,0,0",
        f"4\tnucleus\t{','.join(map(str, default_color(4)))}",
    ]
    assert load_png_classes(tmp_path) == [
        ExportCategory(1, "cell", (255, 0, 0)),
        ExportCategory(4, "nucleus", default_color(4)),
    ]
    assert not list(tmp_path.rglob("*.tmp"))


def test_16bit_masks_for_ids_above_255(tmp_path: Path) -> None:
    cats = [ExportCategory(256, "a"), ExportCategory(40000, "b")]
    m = label_mask(ids=(256, 40000), dtype=np.uint16)
    stats = write_png_masks(
        tmp_path, [ExportImage("x.png", 32, 24, m), ExportImage("y.png", 32, 24, m // 256 * 0)], cats
    )
    assert stats.bit_depth == 16
    with Image.open(tmp_path / "masks/x.png") as im:
        assert im.mode.startswith("I;16")
    assert np.array_equal(read_png(tmp_path / "masks/x.png"), m)
    via_cv2 = cv2.imread(str(tmp_path / "masks/x.png"), cv2.IMREAD_UNCHANGED)
    assert via_cv2.dtype == np.uint16 and np.array_equal(via_cv2, m)
    # every file of the export has the same depth, even one whose values would fit into 8 bits
    with Image.open(tmp_path / "masks/y.png") as im:
        assert im.mode.startswith("I;16")


def test_8bit_masks_read_by_opencv_keep_indices(tmp_path: Path) -> None:
    m = label_mask()
    write_png_masks(tmp_path, [ExportImage("x.png", 32, 24, m)], CATS)
    via_cv2 = cv2.imread(str(tmp_path / "masks/x.png"), cv2.IMREAD_UNCHANGED)
    assert via_cv2.ndim == 2 and np.array_equal(via_cv2, m)


def test_visualisations(tmp_path: Path) -> None:
    m = label_mask()
    write_png_masks(
        tmp_path, [ExportImage("sub/x.jpg", 32, 24, m)], CATS, options=PngExportOptions(visualisations=True)
    )
    rgb = read_png(tmp_path / "visualisations/sub/x.png")
    assert rgb.shape == (24, 32, 3)
    assert tuple(rgb[3, 3]) == (255, 0, 0)
    assert tuple(rgb[20, 25]) == default_color(4)
    assert tuple(rgb[23, 0]) == (0, 0, 0)
    assert default_color(1) == (128, 0, 0) and default_color(2) == (0, 128, 0)


def test_naming_collision_and_full_naming(tmp_path: Path) -> None:
    m = label_mask()
    images = [ExportImage("d/img.jpg", 32, 24, m), ExportImage("d/img.png", 32, 24, m)]
    with pytest.raises(ValueError, match="naming='full'"):
        write_png_masks(tmp_path / "a", images, CATS)
    stats = write_png_masks(tmp_path / "b", images, CATS, options=PngExportOptions(naming="full"))
    assert stats.mask_paths == {"d/img.jpg": "masks/d/img.jpg.png", "d/img.png": "masks/d/img.png.png"}
    assert mask_relpath("a/b.c.jpg") == "a/b.c.png"


def test_stale_masks_removed_on_re_export(tmp_path: Path) -> None:
    m = label_mask()
    write_png_masks(tmp_path, [ExportImage("a.jpg", 32, 24, m), ExportImage("b.jpg", 32, 24, m)], CATS)
    (tmp_path / "masks" / "mine.png").write_bytes(b"user file")
    stats = write_png_masks(tmp_path, [ExportImage("a.jpg", 32, 24, m), ExportImage("b.jpg", 32, 24, None)], CATS)
    assert stats.stale_removed == 1
    assert not (tmp_path / "masks/b.png").exists()
    assert (tmp_path / "masks/a.png").exists()
    assert (tmp_path / "masks/mine.png").read_bytes() == b"user file"


def test_invalid_inputs(tmp_path: Path) -> None:
    m = label_mask()
    with pytest.raises(ValueError, match=r"x\.png.*\[4\]"):
        write_png_masks(tmp_path, [ExportImage("x.png", 32, 24, m)], CATS[:1])
    with pytest.raises(ValueError, match="8-bit"):
        write_png_masks(tmp_path, [], [ExportCategory(300, "big")], options=PngExportOptions(bit_depth=8))


def test_png_export_import_round_trip(tmp_path: Path) -> None:
    masks = {"z/1.jpg": label_mask(), "ä/2.png": label_mask()[::-1].copy(), "3.bmp": np.zeros((24, 32), np.uint8)}
    write_png_masks(tmp_path, [ExportImage(n, 32, 24, m) for n, m in masks.items()], CATS)
    got = import_png_masks(tmp_path, list(masks), sizes={n: (32, 24) for n in masks})
    assert list(got) == list(masks)
    for n, m in masks.items():
        assert got[n].dtype == np.uint8 and np.array_equal(got[n], m)
