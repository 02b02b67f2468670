"""Predictor: numpy in/out, support cache, fusion of any support count, bad input, cancel."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from symnet_core.assets import demo_model_path
from symnet_core.cancel import OperationCancelled
from symnet_core.inference.predictor import Predictor, confidence_score
from symnet_core.inference.transforms import Letterbox, image_to_model, mask_to_model, model_to_image
from tests.model_helpers import scene, tiny_model


class FixedEmbedder:
    dim = 12

    def __init__(self):
        self.calls = []

    def embed(self, name):
        self.calls.append(name)
        rng = np.random.default_rng(len(name))
        return rng.standard_normal(12).astype(np.float32), ("unknown name" if name == "zzz" else None)


@pytest.fixture(scope="module")
def model1():
    return tiny_model(1)


@pytest.fixture(scope="module")
def model3():
    return tiny_model(3)


def _reference_probability(model, sup_img, sup_mask, query, text, mode: str = "fit") -> np.ndarray:
    """The per-episode forward on letterboxed tensors, mapped back by hand."""
    s = model.config.image_size
    box_s = Letterbox.fit(*sup_img.shape[:2], s, mode)
    box_q = Letterbox.fit(*query.shape[:2], s, mode)
    x = torch.from_numpy(image_to_model(query, box_q))[None]
    sx = torch.from_numpy(image_to_model(sup_img, box_s))[None, None]
    sy = torch.from_numpy(mask_to_model(sup_mask, box_s))[None, None]
    with torch.inference_mode():
        out = model(x, sx, sy, torch.from_numpy(text)[None])
    prob = out.final.softmax(1)[0, 1].numpy()
    return model_to_image(prob, box_q)


@pytest.mark.parametrize("qshape", [(90, 160), (300, 200), (7, 5), (1200, 1700)])
def test_predict_matches_episode_forward_at_original_size(model1, qshape):
    sup, sup_mask = scene(140, 100, seed=1)
    query, _ = scene(*qshape, seed=2)
    text = np.linspace(-1, 1, 12, dtype=np.float32)
    pred_ = Predictor(model1, device="cpu")
    pred_.set_supports([sup], [sup_mask], text=text)
    pred = pred_.predict(query)
    assert pred.probability.shape == qshape and pred.probability.dtype == np.float32
    assert pred.mask.shape == qshape and pred.mask.dtype == bool
    assert 0.0 <= pred.score <= 1.0
    ref = _reference_probability(model1, sup, sup_mask, query, text)
    assert np.abs(pred.probability - ref).max() < 1e-4
    assert np.array_equal(pred.mask, pred.probability > 0.5)


def test_support_features_are_computed_once(model1, monkeypatch):
    calls = {"support": 0}
    original = model1.encode_support

    def counting(*args, **kwargs):
        calls["support"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(model1, "encode_support", counting)
    p = Predictor(model1, device="cpu", text_embedder=FixedEmbedder())
    sup, m = scene(100, 100, seed=3)
    summary = p.set_supports([sup], [m], "cat")
    assert summary.fusion == "native" and summary.count == 1
    images = [scene(80, 120, seed=s)[0] for s in range(5)]
    seen = []
    results = p.predict_many(images, batch_size=2, progress=lambda d, t: seen.append((d, t)))
    assert len(results) == 5 and calls["support"] == 1
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_batched_equals_one_by_one(model1):
    p = Predictor(model1, device="cpu", text_embedder=FixedEmbedder())
    sup, m = scene(100, 120, seed=4)
    p.set_supports([sup], [m], "dog")
    images = [scene(60 + 20 * i, 130, seed=10 + i)[0] for i in range(3)]
    batched = p.predict_many(images, batch_size=3)
    single = [p.predict(im) for im in images]
    for a, b in zip(batched, single, strict=True):
        assert np.abs(a.probability - b.probability).max() < 1e-5


def test_k_shot_native_equals_forward(model3):
    sups = [scene(100, 100, seed=20 + i) for i in range(3)]
    query, _ = scene(110, 90, seed=30)
    text = np.ones(12, np.float32)
    p = Predictor(model3, device="cpu")
    assert p.set_supports([s for s, _ in sups], [m for _, m in sups], text=text).fusion == "native"
    got = p.predict(query).probability
    s = model3.config.image_size
    box = Letterbox.fit(100, 100, s)
    sx = torch.stack([torch.from_numpy(image_to_model(im, box)) for im, _ in sups])[None]
    sy = torch.stack([torch.from_numpy(mask_to_model(mk, box)) for _, mk in sups])[None]
    qbox = Letterbox.fit(110, 90, s)
    with torch.inference_mode():
        out = model3(torch.from_numpy(image_to_model(query, qbox))[None], sx, sy, torch.from_numpy(text)[None])
    ref = model_to_image(out.final.softmax(1)[0, 1].numpy(), qbox)
    assert np.abs(got - ref).max() < 1e-4


@pytest.mark.parametrize(("fixture", "n", "fusion"), [
    ("model1", 3, "gram-weighted-mean"), ("model3", 2, "repeat"), ("model3", 5, "nearest-k"), ("model3", 1, "native"),
])
def test_any_number_of_supports(request, fixture, n, fusion):
    model = request.getfixturevalue(fixture)
    p = Predictor(model, device="cpu", text_embedder=FixedEmbedder())
    sups = [scene(90, 110, seed=40 + i, box=(0.1 * i, 0.2, 0.5 + 0.05 * i, 0.7)) for i in range(n)]
    summary = p.set_supports([s for s, _ in sups], [m for _, m in sups], "thing")
    assert summary.fusion == fusion
    queries = [scene(100, 100, seed=50 + i)[0] for i in range(3)]
    preds = p.predict_many(queries, batch_size=3)
    for pr in preds:
        assert np.isfinite(pr.probability).all()
        assert pr.probability.min() >= 0 and pr.probability.max() <= 1
    if fusion != "native":
        assert any(fusion in w for w in preds[0].warnings)


def _k_shot_reference(model, sups, query, text) -> np.ndarray:
    """The model's own K-shot forward on these supports (stacked in this order), mapped back by hand."""
    s = model.config.image_size
    sx = torch.stack([torch.from_numpy(image_to_model(im, Letterbox.fit(*im.shape[:2], s))) for im, _ in sups])
    sy = torch.stack([torch.from_numpy(mask_to_model(mk, Letterbox.fit(*mk.shape[:2], s))) for _, mk in sups])
    qbox = Letterbox.fit(*query.shape[:2], s)
    x = torch.from_numpy(image_to_model(query, qbox))[None]
    with torch.inference_mode():
        out = model(x, sx[None], sy[None], torch.from_numpy(text)[None])
    return model_to_image(out.final.softmax(1)[0, 1].numpy(), qbox)


def _layer2_gram(model, image: np.ndarray) -> np.ndarray:
    """Channel cosine-similarity matrix [C,C] of the backbone's layer-2 output, in float64 numpy."""
    s = model.config.image_size
    x = torch.from_numpy(image_to_model(image, Letterbox.fit(*image.shape[:2], s)))[None]
    with torch.inference_mode():
        f = model.layer2(model.layer1(model.layer0(x)))[0].double().numpy()
    f = f.reshape(f.shape[0], -1)
    n = np.linalg.norm(f, axis=1)
    return (f @ f.T) / (np.outer(n, n) + 1e-7)


def test_repeat_fusion_equals_the_k_shot_forward_on_cycled_supports(model3):
    """n = 2 supports, K = 3: the model sees supports (0, 1, 0)."""
    sups = [scene(90, 110, seed=40 + i, box=(0.1 * i, 0.2, 0.5 + 0.05 * i, 0.7)) for i in range(2)]
    query, _ = scene(100, 100, seed=50)
    emb = FixedEmbedder()
    p = Predictor(model3, device="cpu", text_embedder=emb)
    assert p.set_supports([im for im, _ in sups], [m for _, m in sups], "thing").fusion == "repeat"
    got = p.predict(query).probability
    text = emb.embed("thing")[0]
    ref = _k_shot_reference(model3, [sups[0], sups[1], sups[0]], query, text)
    assert np.abs(got - ref).max() < 1e-4
    other = _k_shot_reference(model3, [sups[1], sups[0], sups[1]], query, text)
    assert np.abs(got - other).max() > 1e-3, "the check must tell the cycled order from another"


def test_nearest_k_fusion_uses_the_k_supports_closest_in_layer2_gram_distance(model3):
    """n = 5 supports, K = 3: per query, the 3 supports whose layer-2 Gram matrices are closest
    (Frobenius distance), in support order, through the model's own 3-shot forward."""
    sups = [scene(90, 110, seed=60 + i, box=(0.05 * i, 0.1 + 0.05 * i, 0.5 + 0.08 * i, 0.9)) for i in range(5)]
    queries = [scene(100, 100, seed=70 + i)[0] for i in range(3)]
    emb = FixedEmbedder()
    p = Predictor(model3, device="cpu", text_embedder=emb)
    assert p.set_supports([im for im, _ in sups], [m for _, m in sups], "thing").fusion == "nearest-k"
    got = p.predict_many(queries, batch_size=3)
    text = emb.embed("thing")[0]
    sup_grams = [_layer2_gram(model3, im) for im, _ in sups]
    for q, pred in zip(queries, got, strict=True):
        g = _layer2_gram(model3, q)
        dist = np.array([np.linalg.norm(g - gs) / g.shape[0] for gs in sup_grams])
        chosen = sorted(np.argsort(dist, kind="stable")[:3].tolist())
        assert sorted(dist)[2] < sorted(dist)[3] - 1e-6, "distances too close to tell the nearest 3 apart"
        ref = _k_shot_reference(model3, [sups[i] for i in chosen], q, text)
        assert np.abs(pred.probability - ref).max() < 1e-4, chosen
        farthest = sorted(np.argsort(dist, kind="stable")[-3:].tolist())
        far = _k_shot_reference(model3, [sups[i] for i in farthest], q, text)
        assert np.abs(pred.probability - far).max() > 1e-3, "the check must tell the nearest 3 from others"


def test_gram_weighted_mean_of_identical_supports_equals_single(model1):
    sup, m = scene(100, 100, seed=60)
    query, _ = scene(100, 100, seed=61)
    p = Predictor(model1, device="cpu", text_embedder=FixedEmbedder())
    p.set_supports([sup], [m], "x")
    single = p.predict(query).probability
    p.set_supports([sup, sup, sup], [m, m, m], "x")
    fused = p.predict(query).probability
    assert np.abs(single - fused).max() < 1e-5


def test_meta_only_uses_meta_logits(model1):
    sup, m = scene(100, 100, seed=70)
    query, _ = scene(100, 100, seed=71)
    text = np.zeros(12, np.float32)
    p = Predictor(model1, device="cpu", use_base_learner=False)
    p.set_supports([sup], [m], text=text)
    got = p.predict(query).probability
    s = model1.config.image_size
    b = Letterbox.fit(100, 100, s)
    with torch.inference_mode():
        out = model1(
            torch.from_numpy(image_to_model(query, b))[None],
            torch.from_numpy(image_to_model(sup, b))[None, None],
            torch.from_numpy(mask_to_model(m, b))[None, None],
            torch.from_numpy(text)[None],
        )
    ref = model_to_image(out.meta.softmax(1)[0, 1].numpy(), b)
    assert np.abs(got - ref).max() < 1e-4


def test_text_embedder_is_used_and_warnings_surface(model1):
    emb = FixedEmbedder()
    p = Predictor(model1, device="cpu", text_embedder=emb)
    sup, m = scene(64, 64, seed=80)
    summary = p.set_supports([sup], [m], "zzz")
    assert emb.calls == ["zzz"] and "unknown name" in summary.warnings
    p2 = Predictor(model1, device="cpu")
    assert any("zero text vector" in w for w in p2.set_supports([sup], [m], "cat").warnings)
    with pytest.raises(ValueError, match="expects 12"):
        p2.set_supports([sup], [m], text=np.zeros(5, np.float32))


def test_threshold_changes_mask(model1):
    sup, m = scene(80, 80, seed=90)
    q, _ = scene(80, 80, seed=91)
    lo = Predictor(model1, device="cpu", threshold=0.2)
    hi = Predictor(model1, device="cpu", threshold=0.8)
    for p in (lo, hi):
        p.set_supports([sup], [m], text=np.zeros(12, np.float32))
    a, b = lo.predict(q), hi.predict(q)
    assert np.allclose(a.probability, b.probability)
    assert np.array_equal(a.mask, a.probability > 0.2) and np.array_equal(b.mask, b.probability > 0.8)
    with pytest.raises(ValueError):
        Predictor(model1, device="cpu", threshold=1.5)


@pytest.mark.parametrize(
    ("image", "mask", "message"),
    [
        (np.zeros((50, 50), np.uint8), np.ones((50, 50), bool), "HxWx3"),
        (np.zeros((50, 50, 4), np.uint8), np.ones((50, 50), bool), "HxWx3"),
        (np.zeros((50, 50, 3), np.float32), np.ones((50, 50), bool), "uint8"),
        (np.zeros((50, 50, 3), np.uint8), np.zeros((50, 50), bool), "empty"),
        (np.zeros((50, 50, 3), np.uint8), np.ones((40, 50), bool), "mask is 50x40"),
        (np.zeros((50, 50, 3), np.uint8), np.full((50, 50), 7, np.uint8), "bool or 0/1"),
        ("not an array", np.ones((50, 50), bool), "numpy array"),
    ],
)
def test_bad_supports_raise_clear_value_errors(model1, image, mask, message):
    p = Predictor(model1, device="cpu")
    with pytest.raises(ValueError, match=message):
        p.set_supports([image], [mask], "cat")


def test_object_too_small_for_feature_grid(model1):
    img = np.zeros((1000, 1000, 3), np.uint8)
    mask = np.zeros((1000, 1000), bool)
    mask[3:6, 3:6] = True  # 9 px of a 1000 px image: gone after resizing to 129 px
    p = Predictor(model1, device="cpu")
    with pytest.raises(ValueError, match="too small") as err:
        p.set_supports([img], [mask], "cat")
    assert "empty object prototype" in str(err.value) and "ignore the painted object" in str(err.value)


def test_default_resize_follows_the_checkpoint(model1, tmp_path):
    from symnet_core.model.checkpoints import load_checkpoint, save_checkpoint

    assert Predictor(model1, device="cpu").resize == "fit"  # a model built in code: the authors' pipeline
    old = save_checkpoint(model1, tmp_path / "old.pth")  # ours, written before resize_mode was recorded
    assert Predictor(load_checkpoint(old), device="cpu").resize == "shrink-only"
    rec = save_checkpoint(model1, tmp_path / "rec.pth", metadata={"resize_mode": "fit"})
    assert Predictor(load_checkpoint(rec), device="cpu").resize == "fit"
    assert Predictor(load_checkpoint(rec), device="cpu", resize="shrink-only").resize == "shrink-only"
    with pytest.raises(ValueError, match="resize"):
        Predictor(model1, device="cpu", resize="upscale")


def test_load_predictor_resize_override_changes_the_model_id(model1, tmp_path):
    from symnet_core.inference.loading import checkpoint_id, load_predictor
    from symnet_core.model.checkpoints import save_checkpoint

    path = save_checkpoint(model1, tmp_path / "m.pth")
    default = load_predictor(path, device="cpu")
    assert default.predictor.resize == "shrink-only" and default.predictor.model_id == checkpoint_id(path)
    assert "letterbox shrink-only" in default.description
    same = load_predictor(path, device="cpu", resize="shrink-only")
    assert same.predictor.model_id == checkpoint_id(path)
    other = load_predictor(path, device="cpu", resize="fit")
    assert other.predictor.resize == "fit" and other.predictor.model_id == f"{checkpoint_id(path)} resize=fit"
    assert other.new_predictor().resize == "fit"


def test_small_images_are_enlarged_by_default_and_kept_with_shrink_only(model1):
    sup, sup_mask = scene(80, 100, seed=5)  # both smaller than the 129 px model input
    query, _ = scene(90, 70, seed=6)
    text = np.linspace(-1, 1, 12, dtype=np.float32)
    got = {}
    for mode in ("fit", "shrink-only"):
        p = Predictor(model1, device="cpu", resize=mode)
        p.set_supports([sup], [sup_mask], text=text)
        got[mode] = p.predict(query).probability
        assert got[mode].shape == (90, 70)
        ref = _reference_probability(model1, sup, sup_mask, query, text, mode)
        assert np.abs(got[mode] - ref).max() < 1e-4
    default = Predictor(model1, device="cpu")
    default.set_supports([sup], [sup_mask], text=text)
    assert np.array_equal(default.predict(query).probability, got["fit"])
    assert np.abs(got["fit"] - got["shrink-only"]).max() > 1e-3  # the modes really differ here


def test_predict_without_supports_and_bad_query(model1):
    p = Predictor(model1, device="cpu")
    with pytest.raises(RuntimeError, match="set_supports"):
        p.predict(np.zeros((10, 10, 3), np.uint8))
    sup, m = scene(60, 60, seed=1)
    p.set_supports([sup], [m], text=np.zeros(12, np.float32))
    with pytest.raises(ValueError, match="query 1"):
        p.predict(np.zeros((10, 10), np.uint8))


def test_cancel_stops_between_batches(model1):
    p = Predictor(model1, device="cpu")
    sup, m = scene(60, 60, seed=1)
    p.set_supports([sup], [m], text=np.zeros(12, np.float32))
    cancel = threading.Event()
    done = []

    def progress(n, total):
        done.append(n)
        cancel.set()

    images = [scene(60, 60, seed=i)[0] for i in range(4)]
    with pytest.raises(OperationCancelled):
        list(p.iter_predict(images, batch_size=1, progress=progress, cancel=cancel))
    assert done == [1]


def test_confidence_score_definition():
    assert confidence_score(np.full((4, 4), 0.0, np.float32), 0.5) == pytest.approx(1.0)
    assert confidence_score(np.full((4, 4), 0.5, np.float32), 0.5) == pytest.approx(0.0)
    p = np.zeros((4, 4), np.float32)
    p[:2] = 1.0
    assert confidence_score(p, 0.5) == pytest.approx(1.0)
    p[:2] = 0.75
    assert confidence_score(p, 0.5) == pytest.approx(0.5)


def test_bad_device_and_precision(model1):
    with pytest.raises(ValueError, match="precision"):
        Predictor(model1, device="cpu", precision="int8")
    with pytest.raises(ValueError, match="fp16"):
        Predictor(model1, device="cpu", precision="fp16")
    with pytest.raises(ValueError):
        Predictor(model1, device="tpu")


DEMO_MODEL = demo_model_path()


def test_fast_mode_masks_agree_with_fp32_on_the_demo_model():
    """bf16 autocast (the CPU fast mode) against fp32 with the trained demo model on held-out scenes.

    The bundled demo model ships with the package: a missing file is a failure, not a skip. A
    forward hook on the model's convolutions records their output dtypes, so the comparison is
    provably bf16 against fp32 (not fp32 against itself).
    """
    assert DEMO_MODEL.is_file(), f"the bundled demo model is missing: {DEMO_MODEL}"
    from symnet_core.inference.loading import load_predictor
    from symnet_core.training.synthetic import dataset_from_metadata

    loaded = load_predictor(DEMO_MODEL, device="cpu")
    fp32 = loaded.predictor
    ds = dataset_from_metadata(fp32.model.checkpoint_info.metadata["data"])
    cid = ds.novel_classes[0]
    scenes = [ds.class_scene(cid, i, "test") for i in range(9)]
    fast = Predictor(fp32.model, "cpu", text_embedder=fp32.text_embedder, precision="bf16")
    for p in (fp32, fast):
        p.set_supports([scenes[0][0]], [scenes[0][1] == cid], ds.class_names[cid])
    convs = [m for m in fp32.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs
    seen: list[torch.dtype] = []
    hooks = [c.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype)) for c in convs]
    inter = union = 0
    largest = 0.0
    try:
        for img, _ in scenes[1:]:
            seen.clear()
            a = fp32.predict(img)
            assert seen and set(seen) == {torch.float32}, set(seen)
            seen.clear()
            b = fast.predict(img)
            assert torch.bfloat16 in set(seen), f"the fast predictor ran no convolution in bf16: {set(seen)}"
            assert a.probability.dtype == b.probability.dtype == np.float32
            inter += int((a.mask & b.mask).sum())
            union += int((a.mask | b.mask).sum())
            diff = float(np.abs(a.probability - b.probability).max())
            assert diff < 0.15
            largest = max(largest, diff)
    finally:
        for h in hooks:
            h.remove()
    assert largest > 0.0, "bf16 and fp32 probabilities are identical: the two runs did the same computation"
    assert union > 0 and inter / union >= 0.98


def test_bf16_on_a_cpu_without_bf16_kernels_warns(caplog, monkeypatch):
    """Without oneDNN bf16 kernels the fast mode is far slower than fp32: the predictor says so."""
    from symnet_core.inference import predictor as predictor_module

    monkeypatch.setattr(predictor_module, "cpu_has_fast_bf16", lambda: False)
    with caplog.at_level("WARNING", logger=predictor_module.__name__):
        Predictor(tiny_model(), device="cpu", precision="bf16")
    assert any("slow path" in r.getMessage() for r in caplog.records)
    caplog.clear()
    monkeypatch.setattr(predictor_module, "cpu_has_fast_bf16", lambda: True)
    with caplog.at_level("WARNING", logger=predictor_module.__name__):
        Predictor(tiny_model(), device="cpu", precision="bf16")
        Predictor(tiny_model(), device="cpu", precision="fp32")
    assert not any("slow path" in r.getMessage() for r in caplog.records)
