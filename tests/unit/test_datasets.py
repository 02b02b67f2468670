"""Episode loaders on tiny fake datasets in the real directory layouts (no real data needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from symnet_core.training.augment import TrainAugment, letterbox_sample
from symnet_core.training.config import AugmentConfig, CocoConfig, ConfigError, DataConfig, load_config
from symnet_core.training.datasets import (
    FewShotData,
    build_data,
    coco_fold_classes,
    pascal_fold_classes,
    read_class_file,
)
from symnet_core.training.episodes import EpisodeSplit, sample_episode

SIDE = 64  # 4096 px per image: a class needs >= 2048 of them (2·32·32)


def _label(classes: list[tuple[int, int]], seed: int) -> np.ndarray:
    """A SIDE×SIDE label: each (class, rows) takes that many full rows; a 255 border line; rest 0."""
    lab = np.zeros((SIDE, SIDE), np.uint8)
    row = 0
    for cls, rows in classes:
        lab[row : row + rows] = cls
        row += rows
    lab[:, -1] = 255  # VOC-style ignore pixels
    return np.roll(lab, seed % 7, axis=1)


def _write(img_path, lab_path, label, seed):
    img_path.parent.mkdir(parents=True, exist_ok=True)
    lab_path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 255, (SIDE, SIDE, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(img_path)
    Image.fromarray(label).save(lab_path)


def _check_episodes(data: FewShotData, split: EpisodeSplit, shots: int, n: int = 12) -> None:
    rng = np.random.default_rng(0)
    for pos in range(n):
        item, classes = split.data_list[pos % len(split)]
        ep = sample_episode(split, pos, rng, shots, data.lut)
        assert ep.class_id in classes and ep.class_id in split.classes
        assert len(ep.support_images) == len(ep.support_labels) == shots
        raw_q = split.source.load(item)[1]
        assert np.array_equal(ep.query_label == 1, raw_q == ep.class_id)
        assert np.array_equal(ep.query_label == 255, raw_q == 255)  # ignore kept
        for img, lab in [(ep.query_image, ep.query_label), *zip(ep.support_images, ep.support_labels, strict=True)]:
            assert img.dtype == np.uint8 and img.shape[2] == 3 and lab.shape == img.shape[:2]
            assert set(np.unique(lab)) <= {0, 1, 255}
            assert (lab == 1).sum() >= 1
        assert ep.names[0] not in ep.names[1:] or len(split.by_class[ep.class_id]) <= shots
        # base label: base classes -> 1..N, novel/background -> 0, ignore kept
        expected = data.lut[raw_q]
        assert np.array_equal(ep.query_base, expected)


# ---------------------------------------------------------------------------------------- PASCAL


@pytest.fixture
def fake_pascal(tmp_path):
    root = tmp_path / "VOC2012"
    # fold 0: novel 1..5. Train images: base classes 6..20; one image with a few novel pixels.
    train = {
        "t0": [(6, 40)], "t1": [(6, 36), (7, 20)], "t2": [(7, 40), (8, 10)], "t3": [(6, 34)],
        "t4": [(7, 33)], "t5": [(6, 40), (2, 1)],  # t5 has novel pixels -> excluded from training
        "t6": [(8, 40)], "t7": [(8, 35)],
    }  # fmt: skip
    val = {"v0": [(1, 40)], "v1": [(1, 36), (2, 36 - 36 + 20)], "v2": [(2, 40)], "v3": [(1, 33), (6, 30)],
           "v4": [(2, 34)], "v5": [(3, 20)]}  # fmt: skip  # v5: class 3 too small (20 rows = 1280 px)
    for items in (train, val):
        for i, (name, classes) in enumerate(items.items()):
            _write(root / "JPEGImages" / f"{name}.jpg", root / "SegmentationClassAug" / f"{name}.png",
                   _label(classes, i), i)  # fmt: skip
    (root / "ImageSets" / "SegmentationAug").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "SegmentationAug" / "train_aug.txt").write_text(
        "".join(f"JPEGImages/{n}.jpg SegmentationClassAug/{n}.png\n" for n in train)
    )
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("".join(f"{n}\n" for n in val))
    return root


def test_pascal_fold_classes():
    base, novel = pascal_fold_classes(2)
    assert novel == (11, 12, 13, 14, 15) and len(base) == 15 and not set(base) & set(novel)
    with pytest.raises(ValueError):
        pascal_fold_classes(4)


def test_pascal_splits_and_episodes(fake_pascal, tmp_path):
    data = build_data(DataConfig(kind="pascal", root=str(fake_pascal), fold=0, index_cache=str(tmp_path / "idx")))
    assert data.novel_classes == (1, 2, 3, 4, 5) and len(data.base_classes) == 15
    names = {data.train.source.item_name(i): cl for i, cl in data.train.data_list}
    assert "t5.jpg" not in names  # contains novel pixels
    assert names["t1.jpg"] == (6,)  # class 7 has 20 rows = 1280 px < 2048
    assert names["t2.jpg"] == (7,)
    assert set(data.train.classes) == {6, 7, 8}
    vnames = {data.val.source.item_name(i): cl for i, cl in data.val.data_list}
    assert "v5.jpg" not in vnames and vnames["v3.jpg"] == (1,)  # base class 6 is not a val episode class
    assert data.val.classes == (1, 2)
    _check_episodes(data, data.train, shots=1)
    _check_episodes(data, data.val, shots=2)
    assert data.class_names[11] == "table" and data.base_class_names[0] == "bus"
    # the class index is cached
    assert list((tmp_path / "idx").glob("pascal-fold0-train-*.json"))


# ---------------------------------------------------------------------------------------- COCO


def test_coco_fold_classes_interleaved():
    base, novel = coco_fold_classes(1)
    assert novel == tuple(range(2, 81, 4)) and novel[:3] == (2, 6, 10) and len(novel) == 20 and len(base) == 60
    assert coco_fold_classes(0, "contiguous")[1] == tuple(range(1, 21))


def test_coco_png_layout(tmp_path):
    root = tmp_path / "coco"
    # fold 0 novel: 1, 5, 9, ...  base e.g. 2, 3
    train = {"a": [(2, 40)], "b": [(2, 35), (3, 2)], "c": [(3, 40)], "d": [(3, 36)], "e": [(2, 34), (1, 5)]}
    val = {"x": [(1, 40)], "y": [(5, 40)], "z": [(1, 35), (5, 35 - 35 + 33)], "w": [(5, 33)]}
    for split, items in (("train", train), ("val", val)):
        for i, (name, classes) in enumerate(items.items()):
            fname = f"COCO_{split}2014_{name}"
            _write(root / f"{split}2014" / f"{fname}.jpg", root / "annotations" / f"{split}2014" / f"{fname}.png",
                   _label(classes, i), i)  # fmt: skip
    data = build_data(DataConfig(kind="coco", root=str(root), fold=0))
    assert data.novel_classes == tuple(range(1, 81, 4))
    train_names = {data.train.source.item_name(i) for i, _ in data.train.data_list}
    assert "COCO_train2014_e.jpg" not in train_names  # novel class 1 present
    assert data.train.classes == (2, 3) and data.val.classes == (1, 5)
    assert data.class_names[1] == "person" and data.class_names[80] == "toothbrush"
    _check_episodes(data, data.train, shots=1)
    _check_episodes(data, data.val, shots=1)


def test_coco_json_layout(tmp_path):
    pytest.importorskip("pycocotools")
    root = tmp_path / "coco"
    cats = [{"id": 1, "name": "person"}, {"id": 2, "name": "bicycle"}, {"id": 3, "name": "car"}]

    def square(x0, y0, s):
        return [[x0, y0, x0 + s, y0, x0 + s, y0 + s, x0, y0 + s]]

    for split in ("train", "val"):
        images, anns = [], []
        specs = {"train": [(2, 60), (3, 58), (2, 55), (3, 50), (1, 60)], "val": [(1, 60), (1, 55), (1, 50)]}[split]
        for i, (cat, s) in enumerate(specs):
            fname = f"COCO_{split}2014_{i:04d}.jpg"
            (root / f"{split}2014").mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((SIDE, SIDE, 3), 40 * i, np.uint8)).save(root / f"{split}2014" / fname)
            images.append({"id": i + 1, "file_name": fname, "height": SIDE, "width": SIDE})
            anns.append({"id": 10 * i + 1, "image_id": i + 1, "category_id": cat, "segmentation": square(1, 1, s),
                         "area": float(s * s), "bbox": [1, 1, s, s], "iscrowd": 0})  # fmt: skip
            crowd_cat = 3 if cat != 3 else 2
            anns.append({"id": 10 * i + 2, "image_id": i + 1, "category_id": crowd_cat, "iscrowd": 1,
                         "segmentation": square(50, 50, 8), "area": 64.0, "bbox": [50, 50, 8, 8]})  # fmt: skip
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"instances_{split}2014.json").write_text(
            json.dumps({"images": images, "annotations": anns, "categories": cats})
        )
    data = build_data(DataConfig(kind="coco", root=str(root), fold=0, coco=CocoConfig(annotations="json")))
    assert data.class_names == {1: "person", 2: "bicycle", 3: "car"}
    assert data.novel_classes[0] == 1 and data.val.classes == (1,) and data.train.classes == (2, 3)
    _, label = data.train.source.load(0)
    assert (label == 255).sum() > 0  # crowd region ignored
    _check_episodes(data, data.train, shots=1)
    _check_episodes(data, data.val, shots=1)


# ---------------------------------------------------------------------------------------- user folder


def test_user_folder(tmp_path):
    root = tmp_path / "project"
    items = {"a/img0": [(1, 40)], "a/img1": [(1, 35), (2, 35 - 35 + 30)], "img2": [(2, 40)], "img3": [(3, 40)],
             "img4": [(3, 36)], "img5": [(1, 33), (3, 33 - 33 + 30)], "img6": [(2, 38)]}  # fmt: skip
    for i, (name, classes) in enumerate(items.items()):
        _write(root / "images" / f"{name}.png", root / "masks" / f"{name}.png", _label(classes, i), i)
    (root / "labelmap.txt").write_text("0\tbackground\t0,0,0\n1\tcat\t1,2,3\n2\tdog\t4,5,6\n3\tbird\t7,8,9\n")
    cfg = load_config(data={"optim": {"iterations": 1}, "data": {
        "kind": "folder", "root": str(root), "folder": {"classes_file": "labelmap.txt", "novel_classes": ["Bird"]}}})
    data = build_data(cfg.data)
    assert data.class_names == {1: "cat", 2: "dog", 3: "bird"} and data.novel_classes == (3,)
    assert data.base_classes == (1, 2) and data.val.classes == (3,)
    train_names = {data.train.source.item_name(i) for i, _ in data.train.data_list}
    assert "img5.png" not in train_names and "img3.png" not in train_names
    _check_episodes(data, data.train, shots=1)
    _check_episodes(data, data.val, shots=1)


def test_class_file_formats(tmp_path):
    (tmp_path / "a.txt").write_text("background\ncat\n# comment\ndog\n")
    assert read_class_file(tmp_path / "a.txt") == {1: "cat", 2: "dog"}
    (tmp_path / "b.txt").write_text("cat\ndog\n")
    assert read_class_file(tmp_path / "b.txt") == {1: "cat", 2: "dog"}


# ---------------------------------------------------------------------------------------- synthetic


def test_synthetic_splits_and_episodes():
    cfg = load_config(data={"optim": {"iterations": 1}, "data": {"kind": "synthetic", "synthetic": {
        "seed": 3, "n_classes": 10, "held_out": 3, "size_range": [64, 80], "val_items": 20, "test_items": 30}}}).data
    data = build_data(cfg, shots=2)
    assert data.train.classes == tuple(range(1, 8)) and data.test.classes == (8, 9, 10)
    assert len(data.test) == 30 and len(data.val) == 20
    _check_episodes(data, data.train, shots=2, n=6)
    _check_episodes(data, data.test, shots=1, n=6)
    # val and test come from different scene streams
    assert not np.array_equal(data.val.source.load(0)[0], data.test.source.load(0)[0])


# ---------------------------------------------------------------------------------------- transforms, config


def test_train_augment_keeps_foreground_and_pads_255():
    img = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    lab = np.zeros((50, 70), np.uint8)
    lab[10:30, 20:40] = 1
    lab[0] = 255
    aug = TrainAugment(AugmentConfig(), 65)
    for seed in range(5):
        x, (y,) = aug(img, [lab], np.random.default_rng(seed))
        assert x.shape == (3, 65, 65) and x.dtype == np.float32 and y.shape == (65, 65)
        assert set(np.unique(y)) <= {0, 1, 255} and (y == 255).any()  # padding
        assert (y == 1).sum() >= 0.85 * 400 * 0.8  # crop kept the object (scale >= 0.9)
    x1, _ = aug(img, [lab], np.random.default_rng(3))
    x2, _ = aug(img, [lab], np.random.default_rng(3))
    assert np.array_equal(x1, x2)


def test_letterbox_sample():
    img = np.zeros((100, 300, 3), np.uint8)
    lab = np.ones((100, 300), np.uint8)
    x, (y,) = letterbox_sample(img, [lab], 97)
    assert x.shape == (3, 97, 97) and y.shape == (97, 97)
    assert (y[:32, :96] == 1).all() and (y[32:] == 255).all() and (y[:, 96:] == 255).all()


def test_config_validation(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("stage: meta\noptim: {iterations: 5, weight_decay: 1e-4}\nmodel: {image_size: 97}\n")
    cfg = load_config(p, ["optim.lr=0.01", "eval.seeds=[1, 2]"])
    assert cfg.optim.weight_decay == 1e-4 and cfg.optim.lr == 0.01 and cfg.eval.seeds == (1, 2)
    assert cfg.model.image_size == 97
    p.write_text("optim: {iterations: 5, lrr: 0.1}\n")
    with pytest.raises(ConfigError, match="lrr"):
        load_config(p)
    with pytest.raises(ConfigError, match="data.root"):
        load_config(data={"optim": {"iterations": 1}, "data": {"kind": "pascal"}})
    with pytest.raises(ConfigError, match="iterations"):
        load_config(data={})
