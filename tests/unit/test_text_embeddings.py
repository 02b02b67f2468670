"""symnet_core.inference.text: word2vec tables (fake pickles) and the CLIP text encoder (random
weights, offline)."""

from __future__ import annotations

import os
import pickle
import time

import numpy as np
import pytest

from symnet_core.inference.text import (
    COCO_CLASSES,
    PASCAL_CLASSES,
    ClipTextEncoder,
    EmbeddingTableError,
    HashTextEmbedder,
    TextEmbedder,
    TextEncoderUnavailable,
    Word2VecTable,
)
from symnet_core.inference.text import clip as te
from tests.protocols import signature_mismatches

# --------------------------------------------------------------------------------------------
# word2vec tables
# --------------------------------------------------------------------------------------------


def _unit_rows(n: int, dim: int = 300, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _write_pickle(path, obj, protocol: int = pickle.DEFAULT_PROTOCOL):
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.fixture
def pascal_rows():
    return _unit_rows(21)


@pytest.fixture
def pascal_table(tmp_path, pascal_rows):
    return Word2VecTable.from_pickle(_write_pickle(tmp_path / "word2vec_pascal.pkl", pascal_rows), "pascal")


def test_class_lists_match_the_authors_tables():
    assert len(PASCAL_CLASSES) == 21
    assert len(COCO_CLASSES) == 81
    assert PASCAL_CLASSES[0] == COCO_CLASSES[0] == "background"
    assert COCO_CLASSES[1] == "person"
    assert COCO_CLASSES[-1] == "toothbrush"


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_pickle_round_trip_for_every_protocol(tmp_path, pascal_rows, protocol):
    path = _write_pickle(tmp_path / "t.pkl", pascal_rows.astype(np.float64), protocol)
    table = Word2VecTable.from_pickle(path, "pascal")
    vec, warning = table.vector("cat")
    assert vec.dtype == np.float32
    assert vec.shape == (300,)
    assert warning is None
    np.testing.assert_allclose(vec, pascal_rows[PASCAL_CLASSES.index("cat")], rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("potted plant", 16),
        ("Potted_Plant", 16),
        ("pottedplant", 16),
        ("potted-plant", 16),
        ("tv", 20),
        ("TV Monitor", 20),
        ("tvmonitor", 20),
        ("aeroplane", 1),
        ("Airplane", 1),
        ("dining table", 11),
        ("diningtable", 11),
        ("table", 11),
        ("motorcycle", 14),
        ("motorbike", 14),
        ("background", 0),
        ("  person ", 15),
    ],
)
def test_pascal_names_and_aliases(pascal_table, pascal_rows, name, row):
    assert pascal_table.index_of(name) == row
    vec, warning = pascal_table.vector(name)
    assert warning is None
    np.testing.assert_array_equal(vec, pascal_rows[row])


def test_coco_names_and_aliases(tmp_path):
    rows = _unit_rows(81, seed=1)
    table = Word2VecTable.from_pickle(_write_pickle(tmp_path / "word2vec_coco.pkl", rows), dataset="coco")
    expected = {
        "person": 1,
        "motorbike": 4,
        "motorcycle": 4,
        "aeroplane": 5,
        "sofa": 58,
        "couch": 58,
        "pottedplant": 59,
        "diningtable": 61,
        "tvmonitor": 63,
        "teddy_bear": 78,
        "hair dryer": 79,
        "toothbrush": 80,
    }
    assert {name: table.index_of(name) for name in expected} == expected
    assert table.dim == 300


def test_plural_is_matched_with_a_note(pascal_table):
    assert pascal_table.index_of("cars") == PASCAL_CLASSES.index("car")
    _, note = pascal_table.vector("Buses")
    assert note is not None
    assert "bus" in note


def test_unknown_name_gets_neutral_vector_and_warning(pascal_table, pascal_rows):
    assert pascal_table.index_of("screw") is None
    vec, warning = pascal_table.vector("screw")
    expected = pascal_rows[1:].mean(axis=0)
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(vec, expected, rtol=1e-5, atol=1e-6)
    assert vec.dtype == np.float32
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    assert warning is not None
    assert "'screw'" in warning
    assert "neutral" in warning


def test_vectors_are_copies(pascal_table):
    vec, _ = pascal_table.vector("cat")
    vec[:] = 0
    assert np.linalg.norm(pascal_table.vector("cat")[0]) > 0.5


def test_empty_name_is_rejected(pascal_table):
    with pytest.raises(ValueError, match="empty"):
        pascal_table.vector("  _ ")


def test_unsafe_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    path = _write_pickle(tmp_path / "evil.pkl", Evil())
    with pytest.raises(EmbeddingTableError, match="refused") as info:
        Word2VecTable.from_pickle(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (np.zeros((20, 300), np.float32), r"\[21, D\]"),
        (np.zeros(300, np.float32), r"\[21, D\]"),
        ([[0.0] * 300] * 21, "numpy array"),
    ],
)
def test_wrong_content_names_the_file(tmp_path, content, match):
    path = _write_pickle(tmp_path / "bad.pkl", content)
    with pytest.raises(EmbeddingTableError, match=match) as info:
        Word2VecTable.from_pickle(path)
    assert str(path) in str(info.value)


def test_truncated_file_names_the_file(tmp_path, pascal_rows):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps(pascal_rows)[:100])
    with pytest.raises(EmbeddingTableError, match="not a readable pickle") as info:
        Word2VecTable.from_pickle(path)
    assert str(path) in str(info.value)


def test_non_finite_table_is_rejected(tmp_path, pascal_rows):
    pascal_rows[3, 7] = np.nan
    with pytest.raises(EmbeddingTableError, match="finite"):
        Word2VecTable.from_pickle(_write_pickle(tmp_path / "nan.pkl", pascal_rows))


@pytest.mark.parametrize("cls", [Word2VecTable, ClipTextEncoder, HashTextEmbedder])
def test_embedders_implement_the_text_embedder_protocol(cls):
    assert signature_mismatches(cls, TextEmbedder) == []


def test_protocol_check_rejects_a_wrong_signature():
    class NameOnly:
        dim = 3

        def embed(self, name, language):  # an extra required parameter: callers would break
            return np.zeros(3, np.float32), None

    assert signature_mismatches(NameOnly, TextEmbedder) != []


def test_word2vec_table_is_a_text_embedder(pascal_table, pascal_rows):
    vec, warning = pascal_table.embed("dog")
    assert vec.dtype == np.float32 and vec.shape == (pascal_table.dim,) == (300,)
    assert np.array_equal(vec, pascal_rows[PASCAL_CLASSES.index("dog")])
    assert warning is None


# --------------------------------------------------------------------------------------------
# CLIP text encoder
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def random_rn50():
    encoder = ClipTextEncoder("RN50", pretrained=None)
    encoder.load()
    return encoder


def test_random_rn50_encodes_names(random_rn50):
    assert random_rn50.dim == 1024
    vec, warning = random_rn50.embed("Potted_Plant")
    assert warning is None
    assert vec.shape == (1024,)
    assert vec.dtype == np.float32
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    batch = random_rn50.encode_many(["cat", "dog", "potted plant"])
    assert batch.shape == (3, 1024)
    assert batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(batch[2], vec)  # same normalised name -> same cached feature
    assert not np.allclose(batch[0], batch[1])


def test_features_are_cached_per_normalised_name(random_rn50, monkeypatch):
    random_rn50.encode("bird")
    calls = []
    original = random_rn50._model.encode_text
    monkeypatch.setattr(random_rn50._model, "encode_text", lambda t: calls.append(t) or original(t))
    first = random_rn50.encode(" BIRD")
    random_rn50.encode("bird")
    assert calls == []
    first[:] = 0  # callers get copies; the cache is unaffected
    assert np.linalg.norm(random_rn50.encode("bird")) == pytest.approx(1.0, abs=1e-5)
    random_rn50.encode("giraffe")
    assert len(calls) == 1


def test_dim_needs_no_weights():
    assert ClipTextEncoder("ViT-B-32", pretrained="openai").dim == 512


def test_template_is_validated():
    with pytest.raises(ValueError, match="template"):
        ClipTextEncoder(template="a photo")


def test_uncached_tag_fails_fast_without_download(tmp_path):
    encoder = ClipTextEncoder("RN50", pretrained="openai", cache_dir=tmp_path / "hub")
    start = time.monotonic()
    with pytest.raises(TextEncoderUnavailable) as info:
        encoder.encode("cat")
    elapsed = time.monotonic() - start
    assert elapsed < 5.0, f"took {elapsed:.1f} s"  # a no-hang check, not a benchmark
    message = str(info.value)
    assert "not cached" in message
    assert str(tmp_path / "hub") in message
    assert "pretrained" in message


def test_allowed_download_fails_fast_when_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    probes = []
    monkeypatch.setattr(te, "_can_reach", lambda host, port=443, timeout=1.5: probes.append(host) or False)
    encoder = ClipTextEncoder("RN50", pretrained="openai", cache_dir=tmp_path, allow_download=True)
    start = time.monotonic()
    with pytest.raises(TextEncoderUnavailable, match="cannot be reached"):
        encoder.load()
    assert time.monotonic() - start < 5.0
    assert probes == ["huggingface.co"]


def test_allowed_download_respects_hf_hub_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(te, "_can_reach", lambda *a, **k: pytest.fail("must not probe the network"))
    encoder = ClipTextEncoder("RN50", pretrained="openai", cache_dir=tmp_path, allow_download=True)
    with pytest.raises(TextEncoderUnavailable, match="HF_HUB_OFFLINE"):
        encoder.resolve_weights()


def test_cached_tag_resolves_to_the_cached_file(tmp_path):
    snapshot = tmp_path / "models--timm--resnet50_clip.openai" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"not really weights")
    (tmp_path / "models--timm--resnet50_clip.openai" / "refs").mkdir()
    (tmp_path / "models--timm--resnet50_clip.openai" / "refs" / "main").write_text("abc123")
    encoder = ClipTextEncoder("RN50", pretrained="openai", cache_dir=tmp_path)
    assert encoder.resolve_weights() == str(snapshot / "open_clip_model.safetensors")
    # A broken cached file is reported as unavailable, naming the file.
    with pytest.raises(TextEncoderUnavailable, match=r"open_clip_model\.safetensors"):
        encoder.load()


def test_cache_location_follows_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert te.default_hub_cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert te.default_hub_cache_dir() == tmp_path / "cache"
    assert ClipTextEncoder().hub_cache_dir == tmp_path / "cache"
    assert ClipTextEncoder(cache_dir=tmp_path / "own").hub_cache_dir == tmp_path / "own"


def test_local_weight_file(tmp_path):
    missing = ClipTextEncoder("RN50", pretrained=tmp_path / "nope.pt")
    with pytest.raises(TextEncoderUnavailable, match="not found"):
        missing.resolve_weights()
    present = tmp_path / "weights.pt"
    present.write_bytes(b"x")
    assert ClipTextEncoder("RN50", pretrained=present).resolve_weights() == str(present)


def test_unknown_tag_and_model_are_value_errors():
    with pytest.raises(ValueError, match="neither a file nor a pretrained tag"):
        ClipTextEncoder("RN50", pretrained="no_such_tag").resolve_weights()
    with pytest.raises(ValueError, match="unknown open_clip model"):
        _ = ClipTextEncoder("NoSuchNet", pretrained=None).dim
