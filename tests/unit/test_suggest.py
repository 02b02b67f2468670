"""Which image next: the ranking, the embedding cache, pooled embeddings, the predictor's vectors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from symnet_core.inference.embedding import pooled_embeddings
from symnet_core.inference.predictor import Predictor
from symnet_core.inference.transforms import Letterbox
from symnet_core.project.embeddings import EMBEDDINGS_FILE_NAME, read_embeddings, store_embeddings
from symnet_core.workflows.suggest import rank_candidates
from tests.model_helpers import scene, tiny_model


def _unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def _clusters():
    """Six candidates: three near e0 (A), three near e1 (B); index 3 is B's centre."""
    rng = np.random.default_rng(0)
    a = [_unit(np.eye(4)[0] + 0.05 * rng.standard_normal(4)) for _ in range(3)]
    b = [_unit(np.eye(4)[1] + 0.05 * rng.standard_normal(4)) for _ in range(3)]
    return np.stack(a + b)


def test_a_confident_cluster_far_from_the_support_is_picked_before_its_near_duplicates():
    emb = _clusters()
    ranking = rank_candidates(emb, [0.9] * 6, np.eye(4)[:1], uncertainty_weight=0.5)
    order = ranking.order.tolist()
    assert sorted(order) == list(range(6))
    assert order[0] in (3, 4, 5), "first pick must come from the cluster the support does not cover"
    # once one B image is a center, the next pick is not another B image... unless A is all that is left;
    # A is covered by the support, B's other members by the first pick: the second pick is the farthest of them
    second_cov = {i: min(np.linalg.norm(emb[i] - np.eye(4)[0]), np.linalg.norm(emb[i] - emb[order[0]]))
                  for i in range(6) if i != order[0]}
    assert order[1] == max(second_cov, key=second_cov.get)
    assert ranking.priority.shape == (6,) and ranking.priority.dtype == np.float32
    assert ranking.priority[order[0]] >= ranking.priority[order[-1]]


def test_uncertainty_weight_one_is_lowest_confidence_first_and_rejected_or_unknown_counts_as_unsure():
    emb = _clusters()
    conf = [0.9, 0.2, 0.8, None, 0.5, float("nan")]
    order = rank_candidates(emb, conf, np.eye(4)[:1], uncertainty_weight=1.0).order.tolist()
    assert set(order[:2]) == {3, 5}
    assert order[2:] == [1, 4, 2, 0]


def test_without_supports_the_most_uncertain_image_comes_first_and_becomes_a_center():
    emb = _clusters()
    conf = [0.9, 0.9, 0.9, 0.9, 0.9, 0.1]
    order = rank_candidates(emb, conf, None, uncertainty_weight=0.0).order.tolist()
    assert order[0] == 5
    assert order[1] in (0, 1, 2), "pure coverage: the next pick is in the other cluster"


def test_greedy_count_limits_the_walk_and_the_rest_is_ordered_by_priority():
    rng = np.random.default_rng(1)
    emb = rng.standard_normal((50, 8))
    r = rank_candidates(emb, rng.random(50), emb[:2], greedy_count=5)
    assert sorted(r.order.tolist()) == list(range(50))
    tail = r.priority[r.order[5:]]
    assert np.all(np.diff(tail) <= 1e-7)
    assert np.all((r.priority >= 0) & (r.priority <= 1))


@pytest.mark.parametrize(
    ("emb", "conf", "sup", "kw", "match"),
    [
        (np.zeros((3, 4)), [0.1, 0.2], None, {}, "one confidence per candidate"),
        (np.zeros(4), [0.1], None, {}, r"\[N,C\]"),
        (np.full((2, 4), np.nan), [0.1, 0.2], None, {}, "finite"),
        (np.ones((2, 4)), [0.1, 0.2], np.ones((1, 3)), {}, "features"),
        (np.ones((2, 4)), [0.1, 0.2], None, {"uncertainty_weight": 1.5}, r"\[0, 1\]"),
    ],
)
def test_bad_inputs_are_refused(emb, conf, sup, kw, match):
    with pytest.raises(ValueError, match=match):
        rank_candidates(emb, conf, sup, **kw)


def test_empty_candidates():
    r = rank_candidates(np.zeros((0, 4)), [], np.ones((1, 4)))
    assert r.order.shape == (0,) and r.priority.shape == (0,)


# --- the cache file ---------------------------------------------------------------------------
def test_cache_round_trip_merge_and_model_change(tmp_path):
    store_embeddings(tmp_path, "m1", {"a.png": [1, 0, 0], "sub/é.png": [0, 1, 0]})
    store_embeddings(tmp_path, "m1", {"b.png": [0, 0, 1]})
    got = read_embeddings(tmp_path)
    assert got.model == "m1" and sorted(got.vectors) == ["a.png", "b.png", "sub/é.png"]
    assert got.vectors["b.png"].dtype == np.float32
    with np.load(tmp_path / EMBEDDINGS_FILE_NAME) as raw:
        assert raw["vectors"].dtype == np.float16 and raw["vectors"].shape == (3, 3)  # half the bytes on disk
    np.testing.assert_array_equal(got.vectors["a.png"], [1, 0, 0])
    store_embeddings(tmp_path, "m2", {"c.png": [0.5, 0.5]})
    got = read_embeddings(tmp_path)
    assert got.model == "m2" and list(got.vectors) == ["c.png"], "vectors of another model are dropped"
    with pytest.raises(ValueError, match="finite"):
        store_embeddings(tmp_path, "m2", {"d.png": [np.nan, 1]})
    assert list(read_embeddings(tmp_path).vectors) == ["c.png"]


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_a_damaged_cache_is_ignored_with_a_warning_naming_it(tmp_path, caplog, content):
    (tmp_path / EMBEDDINGS_FILE_NAME).write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert len(read_embeddings(tmp_path)) == 0
    assert EMBEDDINGS_FILE_NAME in caplog.text
    store_embeddings(tmp_path, "m", {"a.png": [1.0, 2.0]})  # and the next write replaces it
    assert list(read_embeddings(tmp_path).vectors) == ["a.png"]


def test_a_cache_with_pickles_or_nan_is_refused(tmp_path, caplog):
    path = tmp_path / EMBEDDINGS_FILE_NAME
    with path.open("wb") as f:
        np.savez(f, model=np.array("m"), keys=np.array([{"x": 1}], dtype=object), vectors=np.ones((1, 2)))
    assert len(read_embeddings(tmp_path)) == 0
    with path.open("wb") as f:
        np.savez(f, model=np.array("m"), keys=np.array(["a"]), vectors=np.array([[np.nan, 1.0]]))
    assert len(read_embeddings(tmp_path)) == 0


# --- pooled embeddings and the predictor ------------------------------------------------------
def test_pooling_covers_the_content_and_not_the_letterbox_padding():
    box = Letterbox.fit(60, 120, 129, "shrink-only")  # content 56 rows x 120 cols of a 129 canvas
    feats = torch.zeros(1, 2, 17, 17)
    feats[0, 0] = 1.0  # channel 0 everywhere
    rows = int(np.ceil(box.new_h * 17 / 129))
    feats[0, 1, rows:, :] = 5.0  # channel 1 only in the padding below the content
    emb = pooled_embeddings(feats, [box])
    np.testing.assert_allclose(emb, [[1.0, 0.0]], atol=1e-6)
    with pytest.raises(ValueError, match="boxes"):
        pooled_embeddings(feats, [box, box])


@pytest.fixture(scope="module")
def predictor():
    p = Predictor(tiny_model(1), device="cpu", text_embedder=None)
    img, mask = scene(90, 120, 1)
    p.set_supports([img], [mask], text=np.zeros(12, np.float32))
    return p


def test_each_prediction_carries_the_embedding_embed_gives(predictor):
    images = [scene(90, 120, s)[0] for s in (2, 3, 4)]
    preds = predictor.predict_many(images, batch_size=3)
    direct = predictor.embed(images, batch_size=2)
    assert direct.shape == (3, predictor.model.config.backbone_width * 32) and direct.dtype == np.float32
    for pred, vec in zip(preds, direct, strict=True):
        assert pred.embedding.shape == vec.shape
        np.testing.assert_allclose(pred.embedding, vec, atol=1e-5)
        assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5
    assert not np.allclose(direct[0], direct[1]), "different images, different vectors"
