"""Importing PNG mask folders and COCO files (real PNG files, real pycocotools decoding)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from symnet_core.io import ExportCategory, import_coco, import_png_masks, read_label_png

pytestmark = pytest.mark.filterwarnings(
    # pycocotools 2.0.11 under numpy 2.x warns on every decode (upstream; harmless today)
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def save(path: Path, array: np.ndarray, mode: str | None = None, palette: list[int] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(array)
    if mode is not None:
        im = im.convert(mode)
    if palette is not None:
        im.putpalette(palette)
    im.save(path)
    return path


def blob(h: int = 20, w: int = 30) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[3:9, 4:15] = 1
    m[12:18, 20:28] = 2
    return m


# ---------------------------------------------------------------------------------------- PNG decoding


def test_binary_masks_become_class_1(tmp_path: Path) -> None:
    b = (blob() > 0).astype(np.uint8) * 255
    got = read_label_png(save(tmp_path / "l.png", b))
    assert got.dtype == np.uint8 and set(np.unique(got)) == {0, 1}
    assert np.array_equal(got, (b > 0).astype(np.uint8))
    assert np.array_equal(read_label_png(save(tmp_path / "one.png", b, mode="1")), got)
    assert set(np.unique(read_label_png(tmp_path / "l.png", binary_class=5))) == {0, 5}


def test_palette_png_keeps_indices(tmp_path: Path) -> None:
    m = blob()
    m[0, :] = 255  # VOC "void" border
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0, 0, 0] * 252 + [224, 224, 192]
    path = save(tmp_path / "voc.png", m, palette=palette)
    with Image.open(path) as im:
        assert im.mode == "P"
    assert np.array_equal(read_label_png(path), m)
    dropped = read_label_png(path, {255: 0})
    assert np.array_equal(dropped, np.where(m == 255, 0, m))
    by_colour = read_label_png(path, {(128, 0, 0): 3, (0, 128, 0): 9, (224, 224, 192): 0})
    assert np.array_equal(by_colour, np.select([m == 1, m == 2], [3, 9], 0))


def test_rgb_colour_masks_need_a_colour_map(tmp_path: Path) -> None:
    m = blob()
    rgb = np.zeros((*m.shape, 3), np.uint8)
    rgb[m == 1] = (255, 0, 0)
    rgb[m == 2] = (0, 0, 255)
    path = save(tmp_path / "rgb.png", rgb)
    got = read_label_png(path, {(255, 0, 0): 1, (0, 0, 255): 300})
    assert got.dtype == np.uint16
    assert np.array_equal(got, np.select([m == 1, m == 2], [1, 300], 0))
    with pytest.raises(ValueError, match="needs a class_map"):
        read_label_png(path)
    with pytest.raises(ValueError, match=r"\(0, 0, 255\)"):
        read_label_png(path, {(255, 0, 0): 1})
    grey_rgb = np.repeat(m[..., None], 3, axis=2)
    assert np.array_equal(read_label_png(save(tmp_path / "g.png", grey_rgb)), m)


def test_transparent_pixels_are_background(tmp_path: Path) -> None:
    m = blob()
    rgba = np.zeros((*m.shape, 4), np.uint8)
    rgba[..., :3] = (255, 0, 0)
    rgba[..., 3] = np.where(m == 1, 255, 0)
    got = read_label_png(save(tmp_path / "a.png", rgba), {(255, 0, 0): 2})
    assert np.array_equal(got, np.where(m == 1, 2, 0))


def test_16bit_png(tmp_path: Path) -> None:
    m = blob().astype(np.uint16) * 700
    got = read_label_png(save(tmp_path / "16.png", m))
    assert got.dtype == np.uint16 and np.array_equal(got, m)


# ---------------------------------------------------------------------------------------- PNG matching


def test_matching_by_relative_path_and_stem(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    masks = tmp_path / "masks_in"
    save(masks / "a/b/img.png", blob())  # mirrored relative path, extension replaced
    save(masks / "c/photo.jpg.png", blob() * 2)  # mirrored, extension appended
    save(masks / "flat_only.png", blob())  # stem only (image lives in a sub folder)
    save(masks / "x/dup.png", blob())  # stem shared by two images -> ambiguous
    files = ["a/b/img.jpg", "c/photo.jpg", "deep/er/flat_only.tif", "p/dup.jpg", "q/dup.jpg", "missing.jpg"]
    with caplog.at_level(logging.WARNING):
        got = import_png_masks(masks, files)
    assert list(got) == ["a/b/img.jpg", "c/photo.jpg", "deep/er/flat_only.tif"]
    assert np.array_equal(got["c/photo.jpg"], blob() * 2)
    assert "share its file stem" in caplog.text


def test_size_mismatch(tmp_path: Path) -> None:
    save(tmp_path / "img.png", blob())  # 30x20
    with pytest.raises(ValueError, match="EXIF"):
        import_png_masks(tmp_path, ["img.jpg"], sizes={"img.jpg": (20, 30)})
    assert import_png_masks(tmp_path, ["img.jpg"], sizes={"img.jpg": (31, 20)}, strict=False) == {}
    assert list(import_png_masks(tmp_path, ["img.jpg"], sizes={"img.jpg": (30, 20)})) == ["img.jpg"]


# ------------------------------------------------------------------------------------------------ COCO


def coco_file(tmp_path: Path, anns: list[dict], cats: list[dict] | None = None) -> Path:
    data = {
        "images": [
            {"id": 5, "file_name": "sub/ä.jpg", "width": 30, "height": 20},
            {"id": 6, "file_name": "none.jpg", "width": 8, "height": 4},
        ],
        "annotations": anns,
        "categories": cats or [{"id": 0, "name": "_background_"}, {"id": 3, "name": "big"}, {"id": 9, "name": "small"}],
    }
    p = tmp_path / "in.json"
    p.write_text(json.dumps(data), encoding="utf-8")
    return p


def rle_of(m: np.ndarray, compressed: bool = True) -> dict:
    rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    if compressed:
        return {"size": rle["size"], "counts": rle["counts"].decode()}
    flat = m.astype(np.uint8).ravel(order="F")
    change = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return {"size": list(m.shape), "counts": np.diff(np.concatenate([[0], change])).tolist()}


def test_import_coco_decodes_all_forms_and_resolves_overlaps(tmp_path: Path) -> None:
    big = np.zeros((20, 30), bool)
    big[2:18, 2:28] = True
    small = np.zeros((20, 30), bool)
    small[5:10, 5:10] = True
    anns = [
        {"id": 1, "image_id": 5, "category_id": 9, "segmentation": rle_of(small), "iscrowd": 0},  # first in file
        {"id": 2, "image_id": 5, "category_id": 3, "segmentation": rle_of(big, compressed=False), "iscrowd": 0},
        {"id": 3, "image_id": 5, "category_id": 9, "segmentation": [[20, 12, 24, 12, 24, 16, 20, 16]], "iscrowd": 0},
        {"id": 4, "image_id": 5, "category_id": 0, "segmentation": rle_of(~big), "iscrowd": 0},  # background
    ]
    cats, masks = import_coco(coco_file(tmp_path, anns))
    assert cats == [ExportCategory(3, "big"), ExportCategory(9, "small")]
    m = masks["sub/ä.jpg"]
    assert m.dtype == np.uint8 and m.shape == (20, 30)
    expected = np.where(big, 3, 0)
    expected[small] = 9  # the smaller annotation stays on top although it comes first in the file
    expected[12:16, 20:24] = 9  # polygon in pixel-edge coordinates
    assert np.array_equal(m, expected)
    assert not masks["none.jpg"].any() and masks["none.jpg"].shape == (4, 8)


def test_import_coco_crowd_and_degenerate_polygons(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    crowd = np.zeros((20, 30), bool)
    crowd[0:4, 0:4] = True
    anns = [
        {"id": 1, "image_id": 5, "category_id": 3, "segmentation": rle_of(crowd, compressed=False), "iscrowd": 1},
        {"id": 2, "image_id": 5, "category_id": 9, "segmentation": [[1, 1, 5, 5]], "iscrowd": 0},
    ]
    path = coco_file(tmp_path, anns)
    with caplog.at_level(logging.WARNING):
        _, masks = import_coco(path)
    assert "fewer than 3 points" in caplog.text
    assert np.array_equal(masks["sub/ä.jpg"], np.where(crowd, 3, 0))
    _, no_crowd = import_coco(path, include_crowd=False)
    assert not no_crowd["sub/ä.jpg"].any()


@pytest.mark.parametrize(
    ("ann", "message"),
    [
        ({"id": 1, "image_id": 5, "category_id": 42, "segmentation": [[0, 0, 3, 0, 3, 3]]}, "category_id 42"),
        ({"id": 1, "image_id": 77, "category_id": 3, "segmentation": [[0, 0, 3, 0, 3, 3]]}, "image_id 77"),
        ({"id": 1, "image_id": 5, "category_id": 3, "segmentation": {"size": [30, 20], "counts": "abc"}}, "size"),
        ({"id": 1, "image_id": 5, "category_id": 3, "segmentation": {"size": [20, 30], "counts": "zzzz"}}, "malformed"),
        # pycocotools would "decode" this one into uninitialised memory: the runs cover 7 of 600 pixels
        ({"id": 1, "image_id": 5, "category_id": 3, "segmentation": {"size": [20, 30], "counts": "52"}}, "sum to 7"),
    ],
)
def test_import_coco_errors(tmp_path: Path, ann: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        import_coco(coco_file(tmp_path, [ann]))
