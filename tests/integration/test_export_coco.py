"""COCO export + validation, checked with real pycocotools round trips."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from symnet_core.io import (
    CocoExportOptions,
    ExportCategory,
    ExportImage,
    build_coco,
    component_polygon,
    export_coco,
    import_coco,
    oriented_image_size,
    self_consistency_ap,
    validate_coco,
    validate_coco_data,
    write_coco,
    write_coco_per_class,
)

CATS = [ExportCategory(1, "cell"), ExportCategory(2, "edge band"), ExportCategory(7, "speck")]
FIXED_INFO = {"date_created": "2026-01-01T00:00:00+00:00", "year": 2026}

pytestmark = pytest.mark.filterwarnings(
    # pycocotools 2.0.11 under numpy 2.x warns on every decode (upstream; harmless today)
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def scene_mask(h: int = 48, w: int = 64) -> np.ndarray:
    """HxW uint8 label mask with holes, several components, border contact and tiny objects.

    class 1: a square with a 4x4 hole + a 1-pixel object; class 2: a band touching the top, right and
    bottom borders + a block on the left border; class 7: two diagonally touching pixels (one 8-connected
    component) + a 2-pixel line.
    """
    m = np.zeros((h, w), np.uint8)
    m[5:20, 5:20] = 1
    m[10:14, 10:14] = 0
    m[30, 30] = 1
    m[0, 25:] = 2
    m[:, w - 1] = 2
    m[h - 1, 40:] = 2
    m[20:30, 0:3] = 2
    m[40, 5] = 7
    m[41, 6] = 7
    m[35, 10:12] = 7
    return m


def components(mask: np.ndarray) -> list[np.ndarray]:
    """Independent reference: 8-connected components of ``mask != 0`` per class, as bool masks."""
    out = []
    for cid in np.unique(mask):
        if cid == 0:
            continue
        n, lab = cv2.connectedComponents((mask == cid).astype(np.uint8), connectivity=8)
        out += [lab == k for k in range(1, n)]
    return out


def decode(ann: dict, h: int, w: int) -> np.ndarray:
    seg = ann["segmentation"]
    rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w)) if isinstance(seg, list) else seg
    return mask_utils.decode(rle).astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


def images_for(*masks: np.ndarray, names: list[str] | None = None) -> list[ExportImage]:
    names = names or [f"img_{i}.png" for i in range(len(masks))]
    return [ExportImage(n, m.shape[1], m.shape[0], m) for n, m in zip(names, masks, strict=True)]


# ------------------------------------------------------------------------------------------ conventions


def test_rle_export_follows_coco_conventions(tmp_path: Path) -> None:
    m = scene_mask()
    path = tmp_path / "instances.json"
    stats = write_coco(path, images_for(m), CATS)
    raw = path.read_bytes()
    raw.decode("ascii")  # ASCII-only JSON
    data = json.loads(raw)
    assert set(data) >= {"info", "licenses", "images", "annotations", "categories"}
    assert data["licenses"] == []
    assert data["categories"] == [
        {"id": 1, "name": "cell", "supercategory": ""},
        {"id": 2, "name": "edge band", "supercategory": ""},
        {"id": 7, "name": "speck", "supercategory": ""},
    ]
    assert data["images"] == [{"id": 1, "file_name": "img_0.png", "width": 64, "height": 48}]
    anns = data["annotations"]
    assert [a["id"] for a in anns] == list(range(1, len(anns) + 1))
    assert stats.annotations == len(anns) == 6 == stats.rle_annotations
    refs = components(m)
    matched = []
    for a in anns:
        assert a["iscrowd"] == 0 and "ignore" not in a
        assert isinstance(a["segmentation"]["counts"], str)
        assert a["segmentation"]["size"] == [48, 64]
        assert isinstance(a["area"], float) and all(isinstance(v, float) for v in a["bbox"])
        d = decode(a, 48, 64)
        (idx,) = [i for i, r in enumerate(refs) if np.array_equal(r, d)]
        matched.append(idx)
        ys, xs = np.nonzero(d)
        assert a["area"] == float(d.sum())
        assert a["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert np.all(m[d] == a["category_id"])
    assert sorted(matched) == list(range(len(refs)))
    assert COCO(str(path)).getAnnIds() == [a["id"] for a in anns]


def test_bbox_and_area_of_known_block() -> None:
    m = np.zeros((50, 60), np.uint8)
    m[10:30, 20:50] = 1
    (ann,) = export_coco(images_for(m), CATS[:1])["annotations"]
    assert ann["bbox"] == [20.0, 10.0, 30.0, 20.0]
    assert ann["area"] == 600.0


def test_one_annotation_per_class_per_image() -> None:
    m = scene_mask()
    data = export_coco(images_for(m), CATS, options=CocoExportOptions(per_component=False))
    assert [a["category_id"] for a in data["annotations"]] == [1, 2, 7]
    for a in data["annotations"]:
        assert np.array_equal(decode(a, 48, 64), m == a["category_id"])
    assert self_consistency_ap(data) == 1.0


def test_min_area_drops_small_components() -> None:
    m = scene_mask()
    result = build_coco(images_for(m), CATS, options=CocoExportOptions(min_area=3))
    assert result.stats.components_below_min_area == 3  # 1-px object, diagonal pair, 2-px line
    assert result.stats.annotations == 3
    assert validate_coco_data(result.data, expected={"img_0.png": m}, expected_min_area=3).ok
    strict = validate_coco_data(result.data, expected={"img_0.png": m})
    assert not strict.ok
    assert any("differs from the project mask" in e for e in strict.errors)


def test_unlabelled_skipped_and_empty_images_kept() -> None:
    m = scene_mask()
    imgs = [
        ExportImage("labelled.png", 64, 48, m),
        ExportImage("empty.png", 64, 48, np.zeros((48, 64), np.uint8)),
        ExportImage("unlabelled.png", 64, 48, None),
    ]
    result = build_coco(imgs, CATS)
    assert [i["file_name"] for i in result.data["images"]] == ["labelled.png", "empty.png"]
    assert (result.stats.empty_images, result.stats.unlabelled_skipped) == (1, 1)
    assert {a["image_id"] for a in result.data["annotations"]} == {1}
    everything = build_coco(imgs, CATS, options=CocoExportOptions(only_labelled=False))
    assert [i["id"] for i in everything.data["images"]] == [1, 2, 3]
    assert everything.stats.unlabelled_included == 1
    assert validate_coco_data(everything.data).ok


def test_16bit_label_masks_with_ids_above_255(tmp_path: Path) -> None:
    cats = [ExportCategory(300, "a"), ExportCategory(1000, "b"), ExportCategory(65535, "max")]
    m = np.zeros((32, 40), np.uint16)
    m[2:10, 2:10] = 300
    m[12:20, 5:30] = 1000
    m[25:, 30:] = 65535
    path = tmp_path / "c.json"
    write_coco(path, images_for(m), cats)
    report = validate_coco(path, expected={"img_0.png": m})
    assert report.ok, report.summary()
    assert report.ap == 1.0
    got_cats, masks = import_coco(path)
    assert [c.id for c in got_cats] == [300, 1000, 65535]
    assert masks["img_0.png"].dtype == np.uint16
    assert np.array_equal(masks["img_0.png"], m)


def test_input_errors_name_the_file() -> None:
    m = scene_mask()
    with pytest.raises(ValueError, match=r"img_0\.png.*\[7\]"):
        export_coco(images_for(m), CATS[:2])
    with pytest.raises(ValueError, match="shape"):
        ExportImage("x.png", 48, 64, m)  # width/height swapped
    with pytest.raises(ValueError, match="duplicate image"):
        export_coco(images_for(m, m, names=["a.png", "a.png"]), CATS)
    for bad in ("/abs/x.png", "C:/x.png", "a\\b.png", "../x.png", "a//b.png"):
        with pytest.raises(ValueError):
            ExportImage(bad, 64, 48, m)
    with pytest.raises(ValueError, match="background"):
        ExportCategory(0, "_background_")
    with pytest.raises(ValueError, match="duplicate category id"):
        export_coco(images_for(m), [*CATS, ExportCategory(1, "again")])
    with pytest.raises(ValueError, match="integer"):
        ExportImage("f.png", 64, 48, m.astype(np.float32))


# --------------------------------------------------------------------------------------------- polygons


def test_pixel_edge_polygons_rasterise_back_exactly() -> None:
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(150):
        h, w = (int(v) for v in rng.integers(1, 24, 2))
        m = (rng.random((h, w)) < rng.uniform(0.2, 0.8)).astype(np.uint8)
        for comp in components(m):
            poly, holes = component_polygon(comp)
            assert poly is not None and len(poly) >= 6 and len(poly) % 2 == 0
            if holes:
                continue
            got = mask_utils.decode(mask_utils.frPyObjects([poly], h, w)[0]).astype(bool)
            assert np.array_equal(got, comp)
            checked += 1
    assert checked > 500


def test_polygon_mode_iou_and_hole_fallback(tmp_path: Path) -> None:
    h, w = 160, 200
    m = scene_mask(h, w)
    cv2.circle(m, (120, 80), 40, 1, -1)  # disk: IoU 0.968 with centre-coordinate polygons
    cv2.line(m, (60, 150), (190, 100), 2, 2)  # thin slanted line: IoU 0.497 with centre polygons
    path = tmp_path / "poly.json"
    stats = write_coco(path, images_for(m), CATS, options=CocoExportOptions(polygons=True))
    data = json.loads(path.read_text())
    assert stats.rle_fallback_holes == 1  # only the square with the hole
    assert stats.rle_fallback_degenerate == 0  # even the 1-pixel object is a valid 1x1 square
    assert stats.polygon_annotations == stats.annotations - 1
    refs = components(m)
    for a in data["annotations"]:
        d = decode(a, h, w)
        ref = max(refs, key=lambda r, d=d: iou(r, d))
        if isinstance(a["segmentation"], list):
            assert all(len(p) >= 6 and len(p) % 2 == 0 for p in a["segmentation"])
            assert iou(ref, d) >= 0.95
            assert np.array_equal(ref, d)  # pixel-edge polygons are exact
            assert a["area"] == float(d.sum())
        else:  # the fallback: RLE, exact, and the component really has a hole
            assert np.array_equal(ref, d)
            assert component_polygon(ref)[1] is True
    one_px = [a for a in data["annotations"] if a["area"] == 1.0]
    assert one_px[0]["segmentation"] == [[30.0, 30.0, 30.0, 31.0, 31.0, 31.0, 31.0, 30.0]]
    report = validate_coco(path, expected={"img_0.png": m})
    assert report.ok, report.summary()
    assert report.ap == 1.0


def test_polygon_simplification_keeps_iou() -> None:
    m = np.zeros((120, 120), np.uint8)
    cv2.circle(m, (60, 60), 40, 1, -1)
    exact = export_coco(images_for(m), CATS[:1], options=CocoExportOptions(polygons=True))
    simple = export_coco(images_for(m), CATS[:1], options=CocoExportOptions(polygons=True, polygon_tolerance=1.0))
    (pe,) = exact["annotations"][0]["segmentation"]
    (ps,) = simple["annotations"][0]["segmentation"]
    assert len(ps) < len(pe) / 4
    assert iou(decode(simple["annotations"][0], 120, 120), m.astype(bool)) >= 0.95
    assert self_consistency_ap(simple) == 1.0
    # a tolerance that would ruin small or thin shapes falls back to their exact outline
    thin = np.zeros((40, 40), np.uint8)
    thin[5, 2:30] = 1
    thin[10:14, 10:12] = 1
    thin[10:12, 12:20] = 1
    rough = build_coco(images_for(thin), CATS[:1], options=CocoExportOptions(polygons=True, polygon_tolerance=5.0))
    assert rough.stats.polygon_annotations == 2 and rough.stats.rle_fallbacks == 0
    for a in rough.data["annotations"]:
        assert np.array_equal(decode(a, 40, 40), components(thin)[a["id"] - 1])


def test_per_class_polygons_with_several_parts() -> None:
    m = np.zeros((30, 40), np.uint8)
    m[2:8, 2:8] = 1
    m[20:25, 30:38] = 1
    data = export_coco(images_for(m), CATS[:1], options=CocoExportOptions(polygons=True, per_component=False))
    (ann,) = data["annotations"]
    assert len(ann["segmentation"]) == 2
    assert np.array_equal(decode(ann, 30, 40), m == 1)


# ------------------------------------------------------------------------------------------- validation


def test_self_consistency_ap_is_one_even_with_many_objects_per_image() -> None:
    m = np.zeros((64, 64), np.uint8)
    m[::3, ::3] = 1  # 484 isolated pixels: more than COCOeval's default maxDets=100
    data = export_coco(images_for(m, scene_mask(64, 64)), CATS)
    assert sum(a["image_id"] == 1 for a in data["annotations"]) == 484
    assert self_consistency_ap(data) == 1.0


def test_annotation_id_zero_is_caught() -> None:
    data = export_coco(images_for(scene_mask(), scene_mask()), CATS)
    for a in data["annotations"]:
        a["id"] -= 1
    assert self_consistency_ap(data) < 0.9  # GT id 0 counts as "unmatched" in COCOeval
    report = validate_coco_data(data)
    assert not report.ok
    assert any("id must be >= 1" in e for e in report.errors)
    assert any("self-consistency AP" in e for e in report.errors)


def _first(d: dict) -> dict:
    return d["annotations"][0]


def _bytes_repr(d: dict) -> None:
    seg = _first(d)["segmentation"]
    seg["counts"] = repr(seg["counts"].encode("ascii"))


BREAKERS = {
    "bad bbox": (lambda d: _first(d)["bbox"].__setitem__(2, _first(d)["bbox"][2] + 1), "bbox"),
    "bbox as x1y1x2y2": (
        lambda d: _first(d).__setitem__("bbox", [5.0, 5.0, 20.0, 20.0]),
        "bbox",
    ),
    "wrong area": (lambda d: _first(d).__setitem__("area", _first(d)["area"] * 2), "area"),
    "annotation id 0": (lambda d: _first(d).__setitem__("id", 0), "id must be >= 1"),
    "duplicate annotation id": (lambda d: d["annotations"][1].__setitem__("id", 1), "duplicate annotation id"),
    "missing category": (lambda d: _first(d).__setitem__("category_id", 99), "not in categories"),
    "category id 0": (lambda d: d["categories"][0].__setitem__("id", 0), "id 0 must be >= 1"),
    "image id 0": (lambda d: d["images"][0].__setitem__("id", 0), "must be >= 1"),
    "counts as bytes repr": (_bytes_repr, "bytes repr"),
    "missing iscrowd": (lambda d: _first(d).pop("iscrowd"), "iscrowd"),
    "4-number polygon": (lambda d: _first(d).__setitem__("segmentation", [[1, 1, 5, 5]]), "polygon"),
    "polygon outside image": (
        lambda d: _first(d).__setitem__("segmentation", [[0, 0, 100, 0, 100, 100]]),
        "outside",
    ),
    "rle size swapped": (lambda d: _first(d)["segmentation"]["size"].reverse(), "size"),
    "width/height swapped": (
        lambda d: d["images"][0].update(width=d["images"][0]["height"], height=d["images"][0]["width"]),
        "does not match the image",
    ),
    "uncompressed counts wrong sum": (
        lambda d: _first(d).__setitem__("segmentation", {"size": [48, 64], "counts": [5, 10, 3]}),
        "summing",
    ),
    "absolute file name": (lambda d: d["images"][0].__setitem__("file_name", "/data/img.png"), "relative"),
    "garbage counts string": (lambda d: _first(d)["segmentation"].__setitem__("counts", "zzzz"), "malformed"),
    "counts too short": (lambda d: _first(d)["segmentation"].__setitem__("counts", "52"), "sum to 7 pixels"),
}


@pytest.mark.parametrize("name", sorted(BREAKERS))
def test_validation_catches_broken_files(tmp_path: Path, name: str) -> None:
    data = export_coco(images_for(scene_mask()), CATS)
    assert validate_coco_data(data).ok
    breaker, expected_text = BREAKERS[name]
    broken = copy.deepcopy(data)
    breaker(broken)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    report = validate_coco(path)
    assert not report.ok, name
    assert any(expected_text in e for e in report.errors), report.errors
    assert "INVALID" in report.summary()


def test_validation_of_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    report = validate_coco(bad)
    assert not report.ok and "cannot be read" in report.errors[0]
    listy = tmp_path / "list.json"
    listy.write_text("[]")
    assert not validate_coco(listy).ok
    assert not validate_coco(tmp_path / "missing.json").ok


def test_validation_warnings_and_summary() -> None:
    data = export_coco(images_for(scene_mask()), CATS)
    data["annotations"][0]["ignore"] = 0
    del data["info"]
    report = validate_coco_data(data)
    assert report.ok
    assert any("ignore" in w for w in report.warnings)
    assert any("'info'" in w for w in report.warnings)
    text = report.summary()
    assert text.startswith("COCO file OK: 1 images, 6 annotations (6 RLE, 0 polygons), 3 categories")
    assert "self-consistency AP: 1.000" in text


def test_expected_mask_mismatch_is_reported() -> None:
    m = scene_mask()
    data = export_coco(images_for(m), CATS)
    changed = m.copy()
    changed[30, 31] = 1
    report = validate_coco_data(data, expected={"img_0.png": changed, "other.png": m})
    assert not report.ok
    assert any("differs from the project mask in 1 pixels" in e for e in report.errors)
    assert any("other.png: labelled in the project but missing" in e for e in report.errors)


# ------------------------------------------------------------------------------------------ files / I/O


def _jpeg_with_orientation(path: Path, size: tuple[int, int], orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 30, 30)).save(path, format="JPEG", exif=exif)


def test_rotated_jpeg_uses_exif_rotated_size(tmp_path: Path) -> None:
    root = tmp_path / "images"
    _jpeg_with_orientation(root / "phone" / "IMG_0001.jpg", (40, 30), 6)  # stored 40x30, shown 30x40
    assert Image.open(root / "phone" / "IMG_0001.jpg").size == (40, 30)
    mask = np.zeros((40, 30), np.uint8)  # HxW in the rotated frame
    mask[30:40, 0:5] = 1  # bottom-left corner of the upright photo
    path = tmp_path / "c.json"
    write_coco(path, [ExportImage("phone/IMG_0001.jpg", 30, 40, mask)], CATS[:1])
    data = json.loads(path.read_text())
    assert (data["images"][0]["width"], data["images"][0]["height"]) == (30, 40)
    assert data["annotations"][0]["bbox"] == [0.0, 30.0, 5.0, 10.0]
    report = validate_coco(path, images_dir=root, expected={"phone/IMG_0001.jpg": mask})
    assert report.ok, report.summary()
    assert report.counts["image_files_checked"] == 1
    # a file that wrote the unrotated size is caught, with a hint
    data["images"][0].update(width=40, height=30)
    data["annotations"] = []
    path.write_text(json.dumps(data))
    report = validate_coco(path, images_dir=root)
    assert not report.ok
    assert any("EXIF" in e for e in report.errors)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_oriented_image_size_for_every_exif_orientation(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / f"o{orientation}.jpg"
    _jpeg_with_orientation(path, (40, 30), orientation)
    expected = (30, 40) if orientation >= 5 else (40, 30)
    assert oriented_image_size(path) == expected
    with Image.open(path) as im:  # same answer as Pillow's full transpose
        assert ImageOps.exif_transpose(im).size == expected


def test_missing_image_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    write_coco(path, images_for(scene_mask()), CATS)
    report = validate_coco(path, images_dir=tmp_path / "nowhere")
    assert not report.ok and "not found" in report.errors[0]


def test_non_ascii_and_nested_file_names(tmp_path: Path) -> None:
    root = tmp_path / "images"
    names = ["Ünïcode/子目录/画像 1.png", "a/b/c/deep image.png", "plain.png"]
    masks = [scene_mask(), scene_mask()[::-1].copy(), np.zeros((48, 64), np.uint8)]
    for n in names:
        (root / n).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (64, 48)).save(root / n)
    path = tmp_path / "out" / "instances.json"
    write_coco(path, images_for(*masks, names=names), CATS)
    path.read_bytes().decode("ascii")
    coco = COCO(str(path))
    assert [coco.imgs[i]["file_name"] for i in sorted(coco.imgs)] == names
    report = validate_coco(path, images_dir=root, expected=dict(zip(names, masks, strict=True)))
    assert report.ok, report.summary()
    _, imported = import_coco(path)
    assert list(imported) == names
    for n, m in zip(names, masks, strict=True):
        assert np.array_equal(imported[n], m)


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "instances.json"
    path.write_text("previous export")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_coco(path, images_for(scene_mask()), CATS)
    monkeypatch.undo()
    assert path.read_text() == "previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["instances.json"]
    with pytest.raises(ValueError, match="not among the export categories"):
        write_coco(path, images_for(scene_mask()), CATS[:1])
    assert path.read_text() == "previous export"


def test_per_class_files(tmp_path: Path) -> None:
    m = scene_mask()
    paths = write_coco_per_class(tmp_path, images_for(m, np.zeros_like(m)), CATS, info=FIXED_INFO)
    assert sorted(paths) == [1, 2, 7]
    assert Path(paths[2]).name == "instances_2_edge_band.json"
    for cid, p in paths.items():
        data = json.loads(Path(p).read_text())
        assert [c["id"] for c in data["categories"]] == [cid]
        assert len(data["images"]) == 2
        assert [a["id"] for a in data["annotations"]] == list(range(1, len(data["annotations"]) + 1))
        report = validate_coco(p, expected={"img_0.png": np.where(m == cid, m, 0)})
        assert report.ok and report.ap == 1.0, report.summary()


@pytest.mark.parametrize("polygons", [False, True])
def test_coco_import_export_round_trip_is_byte_identical(tmp_path: Path, polygons: bool) -> None:
    masks = [scene_mask(), np.zeros((48, 64), np.uint8), scene_mask()[:, ::-1].copy()]
    names = ["z/last.png", "empty.png", "a/first.png"]
    options = CocoExportOptions(polygons=polygons)
    first = tmp_path / "first.json"
    write_coco(first, images_for(*masks, names=names), CATS, options=options, info=FIXED_INFO)
    cats, imported = import_coco(first)
    assert cats == CATS
    assert list(imported) == names
    for n, m in zip(names, masks, strict=True):
        assert np.array_equal(imported[n], m)
    again = [ExportImage(n, m.shape[1], m.shape[0], m) for n, m in imported.items()]
    second = tmp_path / "second.json"
    write_coco(second, again, cats, options=options, info=FIXED_INFO)
    assert first.read_bytes() == second.read_bytes()
