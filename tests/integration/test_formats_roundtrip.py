"""YOLO, Pascal VOC, labelme and CVAT: export -> import round trips on the edge-case project, what each format
writes for empty/unlabelled images and holes, and one clear error per malformed foreign file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from symnet_core.io.common import ExportImage
from symnet_core.io.interop import ForeignFileError, InstanceExportOptions, match_keys
from symnet_core.io.registry import INSTANCE_FORMATS, import_format, write_format
from symnet_core.io.yolo.export import YoloSplit
from tests.interop.edge_cases import (
    H,
    W,
    by_name,
    categories,
    class_iou,
    edge_masks,
    export_images,
    write_images,
)

RASTER = {"voc"}


@pytest.fixture(scope="module")
def image_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("images")
    write_images(root)
    return root


@pytest.mark.parametrize("per_component", [True, False])
@pytest.mark.parametrize("fmt", INSTANCE_FORMATS)
def test_round_trip_keeps_every_mask(fmt, per_component, image_root, tmp_path):
    out = tmp_path / fmt
    stats = write_format(fmt, out, export_images(), categories(),
                         options=InstanceExportOptions(per_component=per_component), images_root=image_root)
    assert stats.images == 7 and stats.unlabelled_skipped == 1 and stats.empty_images == 1
    assert stats.holes_kept_as_mask + stats.holes_bridged == (0 if fmt == "voc" else 5)  # every donut counted
    cats, masks = import_format(fmt, out)
    expected = {k: m for k, m in edge_masks().items() if m is not None}
    matched = match_keys(masks, expected)
    assert sorted(matched.values()) == sorted(expected), "every labelled image, and only those, comes back"
    for name, mask in masks.items():
        got = by_name(cats, mask)
        iou = class_iou(expected[matched[name]], got)
        assert iou >= (1.0 if fmt in RASTER else 0.98), (fmt, name, iou)
        assert np.array_equal(got, expected[matched[name]]), (fmt, name)  # measured: exact in every format


def test_what_each_format_writes_for_empty_unlabelled_and_holes(image_root, tmp_path):
    opts = InstanceExportOptions()
    y = write_format("yolo", tmp_path / "y", export_images(), categories(), options=opts, images_root=image_root)
    assert (tmp_path / "y/labels/empty.txt").read_bytes() == b""  # a background image
    assert not (tmp_path / "y/labels/unlabelled.txt").exists() and not (tmp_path / "y/images/unlabelled.jpg").exists()
    assert (tmp_path / "y/images/sub dir/ünïcode ✓ 02.jpg").is_file()
    assert y.holes_bridged == 5 and "zero-width cuts" in y.summary()
    v = write_format("voc", tmp_path / "v", export_images(), categories(), options=opts, images_root=image_root)
    empty = Image.open(tmp_path / "v/SegmentationClass/empty.png")
    assert empty.mode == "P" and not np.array(empty).any()
    assert v.objects == 20
    ids = (tmp_path / "v/ImageSets/Segmentation/default.txt").read_text("utf-8").splitlines()
    assert ids[1] == "sub dir/ünïcode ✓ 02"
    lm = write_format("labelme", tmp_path / "l", export_images(), categories(), options=opts, images_root=image_root)
    assert json.loads((tmp_path / "l/empty.json").read_text("utf-8"))["shapes"] == []
    assert lm.holes_kept_as_mask == 5
    doc = json.loads((tmp_path / "l/plain 01.json").read_text("utf-8"))
    kinds = sorted({s["shape_type"] for s in doc["shapes"]})
    assert kinds == ["mask", "polygon"]
    one_px = [s for s in doc["shapes"] if s["points"][0] == [40.0, 40.0]]
    assert one_px and len(one_px[0]["points"]) == 3  # labelme needs 3 points: the pixel repeated
    c = write_format("cvat", tmp_path / "c", export_images(), categories(), options=opts, images_root=image_root)
    xml = (tmp_path / "c/annotations.xml").read_text("utf-8")
    assert '<image id="6" name="empty.jpg" width="64" height="48" />' in xml and "unlabelled" not in xml
    assert c.holes_kept_as_mask == 5 and xml.count("<mask ") == 5


def test_cvat_mask_rle_is_row_major_from_background():
    from symnet_core.io.cvat.export import mask_to_cvat_rle
    from symnet_core.io.cvat.importer import decode_cvat_rle

    crop = np.array([[1, 1, 0], [0, 1, 1]], np.uint8)
    assert mask_to_cvat_rle(crop) == [0, 2, 2, 2]
    assert mask_to_cvat_rle(np.array([[0, 1]])) == [1, 1]
    assert np.array_equal(decode_cvat_rle("0, 2, 2, 2", 3, 2, "x"), crop.astype(bool))


def test_min_area_and_split_are_deterministic(image_root, tmp_path):
    opts = InstanceExportOptions(min_area=2)
    stats = write_format("yolo", tmp_path / "a", export_images(), categories(), options=opts,
                         images_root=image_root, split=YoloSplit(0.5, seed=3))
    assert stats.components_below_min_area == 4  # the 1-pixel objects (two in rgba.png, one in two others)
    write_format("yolo", tmp_path / "b", reversed(export_images()), categories(), options=opts,
                 images_root=image_root, split=YoloSplit(0.5, seed=3))
    files = sorted(p.relative_to(tmp_path / "a").as_posix() for p in (tmp_path / "a/labels").rglob("*.txt"))
    assert files == sorted(p.relative_to(tmp_path / "b").as_posix() for p in (tmp_path / "b/labels").rglob("*.txt"))
    assert any("/val/" in f for f in files) and any("/train/" in f for f in files)
    data = (tmp_path / "a/data.yaml").read_text("utf-8")
    assert "train: images/train" in data and "val: images/val" in data and "spécial class" in data
    _, masks = import_format("yolo", tmp_path / "a")
    assert not any(m[40, 40] for m in masks.values())  # the dropped 1-pixel object


def test_same_stem_images_are_refused(tmp_path):
    empty = np.zeros((4, 4), np.uint8)
    imgs = [ExportImage("a.jpg", 4, 4, empty), ExportImage("a.png", 4, 4, empty)]
    for fmt in ("yolo", "voc", "labelme"):
        with pytest.raises(ValueError, match="would share"):
            write_format(fmt, tmp_path / fmt, imgs, categories(), options=InstanceExportOptions(copy_images=False))


def _yolo_dataset(root: Path, line: str) -> Path:
    (root / "labels").mkdir(parents=True)
    (root / "images").mkdir()
    Image.new("RGB", (W, H)).save(root / "images/x.jpg")
    (root / "data.yaml").write_text("names: [a]\n")
    (root / "labels/x.txt").write_text(line)
    return root


@pytest.mark.parametrize(("line", "message"), [
    ("0 0.1 0.1 nan 0.2 0.3 0.3\n", "finite"),
    ("0 0.1 0.1 1e300 0.2 0.3 0.3\n", "finite"),
    ("0 0.1 0.1 1.5 0.2 0.3 0.3\n", "normalised"),
    ("3 0.1 0.1 0.5 0.2 0.3 0.3\n", "class index 3"),
    ("0 0.1 0.1 0.5\n0 0.1\n", "even number"),
    ("zero 0.1 0.1 0.5 0.2 0.3 0.3\n", "numbers"),
])
def test_malformed_yolo_lines_name_the_file(tmp_path, line, message):
    root = _yolo_dataset(tmp_path / "ds", line)
    with pytest.raises(ForeignFileError, match=message) as exc:
        import_format("yolo", root)
    assert "x.txt" in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize(("content", "message"), [
    ("<annotations><image name='a.jpg' width='4' height='4'>", "not well-formed"),
    ("<foo/>", "not a CVAT"),
    ("<annotations><image name='a.jpg' width='4' height='4'><polygon label='a' points='0,0;nan,1;2,2'/></image>"
     "</annotations>", "finite"),
    ("<annotations><image name='a.jpg' width='4' height='4'><polygon label='a' points='0,0;1e30,1;2,2'/></image>"
     "</annotations>", "range"),
    ("<annotations><image name='a.jpg' width='4' height='4'><polygon label='a' points='0,0;90,1;2,2'/></image>"
     "</annotations>", "outside the 4x4 image"),
    ("<annotations><image name='a.jpg' width='65535' height='65535'/></annotations>", "pixels"),
    ("<annotations><image name='a.jpg' width='4' height='4'><mask label='a' rle='1, 2' left='0' top='0' width='2' "
     "height='2'/></image></annotations>", "summing"),
    ("<annotations><image name='a.jpg' width='4' height='4'><mask label='a' rle='0, 4' left='3' top='3' width='2' "
     "height='2'/></image></annotations>", "outside"),
    ("<annotations><image name='../a.jpg' width='4' height='4'/></annotations>", r"'\.\.'"),
    ("<annotations><image name='a.jpg' width='-4' height='4'/></annotations>", "width"),
])
def test_malformed_cvat_files_name_the_file(tmp_path, content, message):
    f = tmp_path / "annotations.xml"
    f.write_text(content)
    with pytest.raises(ForeignFileError, match=message) as exc:
        import_format("cvat", f)
    assert "annotations.xml" in str(exc.value)


@pytest.mark.parametrize(("doc", "message"), [
    ("{", "not valid UTF-8 JSON"),
    ('{"shapes": [{"label": "a", "points": [[0, 0], [NaN, 1], [2, 2]]}], "imageWidth": 4, "imageHeight": 4}',
     "not valid"),
    ('{"shapes": [{"label": "a", "points": [[0, 0], [1e30, 1], [2, 2]]}], "imageWidth": 4, "imageHeight": 4}',
     "range"),
    ('{"shapes": [{"label": "a", "points": [[0, 0], [3, 3]], "shape_type": "mask", "mask": "!!"}], '
     '"imageWidth": 4, "imageHeight": 4}', "base64"),
    ('{"shapes": [{"label": "a", "points": [[0, 0]]}], "imageWidth": 4, "imageHeight": 4}', "3 points"),
    ('{"shapes": [], "imageWidth": 4}', "height"),
    ('{"shapes": [{"label": "a", "points": [[0, 0], [90, 1], [2, 2]]}], "imageWidth": 4, "imageHeight": 4}',
     "outside"),
])
def test_malformed_labelme_files_name_the_file(tmp_path, doc, message):
    f = tmp_path / "x.json"
    f.write_text(doc)
    with pytest.raises(ForeignFileError, match=message) as exc:
        import_format("labelme", tmp_path)
    assert "x.json" in str(exc.value)


def test_malformed_voc_png_names_the_file(tmp_path):
    (tmp_path / "SegmentationClass").mkdir()
    (tmp_path / "SegmentationClass/x.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(ForeignFileError, match="x.png"):
        import_format("voc", tmp_path)
    (tmp_path / "SegmentationClass/x.png").unlink()
    Image.fromarray(np.full((4, 4), 30, np.uint8)).save(tmp_path / "SegmentationClass/y.png")
    with pytest.raises(ForeignFileError, match="class index 30"):
        import_format("voc", tmp_path)
