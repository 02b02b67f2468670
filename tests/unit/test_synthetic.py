"""The synthetic few-shot dataset: determinism, class table, split hygiene, demo folder."""

from __future__ import annotations

import hashlib
import json
from itertools import combinations

import numpy as np
import pytest
from PIL import Image

from symnet_core.inference.text import HashTextEmbedder
from symnet_core.training.synthetic import (
    ATTRIBUTES,
    SHAPES,
    TEXTURES,
    SyntheticFewShot,
    dataset_from_metadata,
    demo_dataset,
    demo_folder_is_current,
    make_demo_folder,
)


@pytest.fixture(scope="module")
def ds() -> SyntheticFewShot:
    return SyntheticFewShot(seed=3, n_classes=12, held_out=4, size_range=(64, 96))


def test_scene_is_deterministic_by_seed(ds):
    a = ds.scene(5, size=(80, 90))
    b = SyntheticFewShot(seed=3, n_classes=12, held_out=4, size_range=(64, 96)).scene(5, size=(80, 90))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    c = SyntheticFewShot(seed=4, n_classes=12, held_out=4, size_range=(64, 96)).scene(5, size=(80, 90))
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[0], ds.scene(6, size=(80, 90))[0])
    # global RNG state is neither used nor changed
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    ds.scene(7)
    assert np.random.random() == before


def test_scene_types_and_any_size(ds):
    for size in [(16, 16), (37, 91), (120, 40)]:
        rgb, label = ds.scene(1, size=size)
        assert rgb.shape == (*size, 3) and rgb.dtype == np.uint8
        assert label.shape == size and label.dtype == np.uint8
        assert set(np.unique(label)) <= set(range(ds.n_classes + 1))
    rgb, _ = ds.scene(2)
    assert 64 <= rgb.shape[0] <= 96 and 64 <= rgb.shape[1] <= 96


def _palettes_close(a, b):
    return any(min((x - y) % 12, (y - x) % 12) <= 1 for x in a for y in b)


def _differences(a, b):
    return (a.shape != b.shape) + (a.texture != b.texture) + (not _palettes_close(a.palette, b.palette))


@pytest.mark.parametrize(("n", "held", "train_diff"), [(6, 2, 2), (12, 4, 2), (30, 6, 2), (86, 6, 1)])
def test_class_tables_are_distinct(n, held, train_diff):
    ds = SyntheticFewShot(seed=7, n_classes=n, held_out=held, min_train_difference=train_diff)
    assert len(ds.classes) == n and len({c.name for c in ds.classes}) == n
    train = [ds.spec(c) for c in ds.train_classes]
    for a, b in combinations(train, 2):
        assert _differences(a, b) >= train_diff, (a.name, b.name)
    for c in ds.novel_classes:  # a novel class is never a near copy of any other class
        novel = ds.spec(c)
        assert all(_differences(novel, o) >= 2 for o in ds.classes if o.id != c), novel.name
        assert novel.shape in {t.shape for t in train} and novel.texture in {t.texture for t in train}


def test_class_ids_and_attributes(ds):
    assert len({c.name for c in ds.classes}) == ds.n_classes
    train = [ds.spec(c) for c in ds.train_classes]
    for c in ds.novel_classes:
        s = ds.spec(c)
        assert s.shape in {t.shape for t in train} and s.texture in {t.texture for t in train}
    assert {c.shape for c in ds.classes} <= set(SHAPES) and {c.texture for c in ds.classes} <= set(TEXTURES)
    assert ds.train_classes == tuple(range(1, 9)) and ds.novel_classes == (9, 10, 11, 12)


def test_training_scenes_never_show_novel_classes(ds):
    novel = set(ds.novel_classes)
    for i in range(30):
        _, label = ds.scene(i, stream="train")
        assert not novel & set(np.unique(label).tolist())
    with pytest.raises(ValueError, match="novel"):
        ds.class_scene(ds.novel_classes[0], 0, "train")


def test_main_class_is_visible(ds):
    for i in range(20):
        c = ds.novel_classes[i % 4]
        _, label = ds.class_scene(c, i, "test", size=(72, 72))
        assert (label == c).sum() >= ds.min_main_fraction * 72 * 72


def test_episode_masks(ds):
    ep = ds.episode(ds.novel_classes[1], 3, shots=2, size=(64, 64))
    assert len(ep.supports) == len(ep.support_masks) == 2
    for img, m in [(ep.query, ep.query_mask), *zip(ep.supports, ep.support_masks, strict=True)]:
        assert img.shape == (64, 64, 3) and m.shape == (64, 64) and m.dtype == np.uint8
        assert set(np.unique(m)) <= {0, 1} and m.sum() > 0
    assert not np.array_equal(ep.query, ep.supports[0])


def test_attribute_tables(ds):
    tables = ds.attribute_tables()
    assert set(tables) == set(ATTRIBUTES)
    for c in ds.train_classes:
        spec = ds.spec(c)
        assert tables["shape"][c] == 1 + SHAPES.index(spec.shape)
        assert tables["texture"][c] == 1 + TEXTURES.index(spec.texture)
        assert tables["hue"][c] == 1 + spec.hue_bin
    for t in tables.values():
        assert t[0] == 0 and t[255] == 255 and all(t[c] == 255 for c in ds.novel_classes)


def test_hash_text_embedder_is_stable():
    emb = HashTextEmbedder(8, salt="t")
    v, warn = emb.embed("Red  striped_star")
    assert warn is None and v.dtype == np.float32 and v.shape == (8,)
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-6
    assert np.array_equal(v, emb.vector("red striped star"))
    assert not np.allclose(v, emb.vector("red striped ring"))
    assert not np.allclose(v, HashTextEmbedder(8, salt="u").vector("red striped star"))
    # pinned: a change here changes every model trained on synthetic data
    digest = hashlib.sha256(HashTextEmbedder(32).vector("blue dotted ring").tobytes()).hexdigest()[:16]
    assert digest == "56ed9a0fe3910e30"
    with pytest.raises(ValueError):
        emb.vector("  ")


def test_dataset_from_checkpoint_metadata():
    ds = SyntheticFewShot(seed=5, n_classes=20, held_out=4, size_range=(64, 96), object_scale=1.2,
                          min_train_difference=1)  # fmt: skip
    again = dataset_from_metadata({"kind": "synthetic", **ds.describe()})
    assert again.classes == ds.classes and again.size_range == ds.size_range
    assert np.array_equal(again.scene(3, stream="test")[0], ds.scene(3, stream="test")[0])
    with pytest.raises(ValueError, match="synthetic"):
        dataset_from_metadata({"kind": "pascal"})


def test_demo_folder(tmp_path):
    manifest = make_demo_folder(tmp_path / "demo", n_images=6, seed=1, n_supports=2)
    root = tmp_path / "demo"
    images = sorted(p.name for p in root.glob("*.png"))
    assert images == [f"demo_{i:03d}.png" for i in range(6)] == manifest["images"]
    assert sorted(p.name for p in (root / ".supports").glob("*.png")) == manifest["supports"] == images[:2]
    ds = demo_dataset()
    assert manifest["class_id"] in ds.novel_classes and manifest["class_name"] == ds.spec(manifest["class_id"]).name
    for name in images:
        rgb = np.array(Image.open(root / name))
        gt = np.array(Image.open(root / ".groundtruth" / name))
        assert rgb.ndim == 3 and gt.shape == rgb.shape[:2]
        assert set(np.unique(gt)) <= {0, 1} and gt.sum() > 0
    assert json.loads((root / ".demo.json").read_text())["class_name"] == manifest["class_name"]
    assert demo_folder_is_current(root)
    assert not demo_folder_is_current(root, SyntheticFewShot(seed=7, n_classes=12, held_out=4))
    assert not demo_folder_is_current(tmp_path / "nowhere")
    again = tmp_path / "again"
    make_demo_folder(again, n_images=2, seed=1, with_supports=False)
    assert np.array_equal(np.array(Image.open(again / "demo_001.png")), np.array(Image.open(root / "demo_001.png")))
    assert not (again / ".supports").exists()
