"""Unit tests of every Sym-Net module against direct re-statements of the paper's equations."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from symnet_core.model.apa import APA
from symnet_core.model.backbone import build_dilated_resnet, extract_features
from symnet_core.model.base_learner import build_base_learner
from symnet_core.model.config import SymNetConfig, default_pyramid_bins
from symnet_core.model.correlation import hyper_correlation, support_columns
from symnet_core.model.gram import build_shot_reweighter, gram_distance, gram_matrix, shot_weights
from symnet_core.model.prior import official_prior, query_prior, support_prior_keys
from symnet_core.model.prototypes import masked_average_pool, query_prototypes
from symnet_core.model.symnet import SymNet
from tests.model_helpers import episode_tensors, tiny_model

KEYS_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "official-checkpoint-keys.txt"


def official_keys() -> dict[str, tuple[int, ...]]:
    out = {}
    for line in KEYS_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, shape, _ = line.split("\t")
            out[key] = tuple(int(v) for v in shape.strip("()").split(",") if v.strip())
    return out


# -- config ----------------------------------------------------------------------------------------
def test_pyramid_bins_match_official_configs():
    assert SymNetConfig(image_size=473).pyramid_bins == (60, 30, 15, 8)
    assert SymNetConfig(image_size=641).pyramid_bins == (81, 40, 20, 10)
    assert default_pyramid_bins(129) == (17, 8, 4, 2)


@pytest.mark.parametrize(
    "kwargs", [{"layers": 34}, {"shots": 0}, {"num_base_outputs": 1}, {"pyramid_bins": (59, 30, 15, 8)}]
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        SymNetConfig(**kwargs)


def test_config_round_trip():
    cfg = SymNetConfig(layers=101, shots=5, image_size=641, num_base_outputs=61)
    assert SymNetConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        SymNetConfig.from_dict({"nonsense": 1})


# -- state dict ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shots", [1, 5])
def test_state_dict_matches_official_keys_and_shapes(shots):
    official = {k: v for k, v in official_keys().items() if shots > 1 or not k.startswith("kshot_rw")}
    ours = {k: tuple(v.shape) for k, v in SymNet(SymNetConfig(shots=shots)).state_dict().items()}
    assert ours == official
    assert len(ours) == (420 if shots == 1 else 424)


def test_resnet101_and_coco_shapes():
    sd = SymNet(SymNetConfig(layers=101, num_base_outputs=61, image_size=641)).state_dict()
    assert tuple(sd["hyper_final.conv2.weight"].shape) == (16, 23, 1, 1)
    assert tuple(sd["learner_base.1.4.weight"].shape) == (61, 512, 1, 1)
    assert len({k.split(".")[1] for k in sd if k.startswith("layer3.")}) == 23


def test_merge_weights_start_at_official_init():
    m = SymNet(SymNetConfig())
    assert m.gram_merge.weight.flatten().tolist() == [1.0, 0.0]
    assert m.cls_merge.weight.flatten().tolist() == [1.0, 0.0]


# -- backbone --------------------------------------------------------------------------------------
def test_backbone_shapes_dilation_and_hyper_features():
    stages = build_dilated_resnet((3, 4, 6, 3), width=8)
    x = torch.randn(1, 3, 129, 129)
    with torch.no_grad():
        feats = extract_features(stages, x)
    sizes = [tuple(t.shape[1:]) for t in feats.stages]
    assert sizes == [(16, 33, 33), (32, 33, 33), (64, 17, 17), (128, 17, 17), (256, 17, 17)]
    assert len(feats.hyper) == 4 + 6 + 3
    # the last hyper feature is layer4's pre-ReLU output
    assert torch.equal(F.relu(feats.hyper[-1]), feats.stages[4])
    assert stages[3][1].conv2.dilation == (2, 2) and stages[4][0].conv2.dilation == (4, 4)
    assert stages[3][0].downsample[0].stride == (1, 1)


def test_base_learner_output():
    head = build_base_learner(64, 7, hidden=16).eval()
    assert head(torch.randn(2, 64, 9, 9)).shape == (2, 7, 9, 9)


# -- prototypes ------------------------------------------------------------------------------------
def test_masked_average_pool_matches_definition_and_empty_mask():
    f = torch.randn(2, 5, 6, 6)
    m = (torch.rand(2, 1, 6, 6) > 0.5).float()
    expected = (f * m).sum(dim=(2, 3)) / (m.sum(dim=(2, 3)) + 0.0005)
    assert torch.allclose(masked_average_pool(f, m).flatten(1), expected, atol=1e-5)
    assert torch.count_nonzero(masked_average_pool(f, torch.zeros_like(m))) == 0


def test_query_prototypes_sets_and_fallbacks():
    f = torch.arange(2 * 3 * 16, dtype=torch.float32).reshape(2, 3, 4, 4)
    prior = torch.linspace(0, 1, 16).reshape(1, 1, 4, 4).repeat(2, 1, 1, 1)
    protos = query_prototypes(f, prior)
    flat = f.reshape(2, 3, 16)
    p = prior.reshape(2, 16)
    assert torch.allclose(protos.foreground, flat[:, :, p[0] > 0.7].mean(-1))
    assert torch.allclose(protos.background, flat[:, :, p[0] < 0.4].mean(-1))
    assert torch.allclose(protos.ambiguous, flat[:, :, (p[0] > 0.4) & (p[0] < 0.55)].mean(-1))
    # a constant prior empties every set: fallbacks to 12 positions each
    f2 = torch.randn(1, 3, 5, 5)
    flat_prior = torch.full((1, 1, 5, 5), 0.6)
    fallback = query_prototypes(f2, flat_prior)
    top12 = torch.topk(flat_prior.flatten(), 12).indices
    assert torch.allclose(fallback.foreground[0], f2.reshape(3, 25)[:, top12].mean(-1))


# -- SPM -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [1, 3])
def test_fast_prior_equals_official_form(batch):
    torch.manual_seed(0)
    q = torch.relu(torch.randn(batch, 32, 11, 11))
    s = torch.relu(torch.randn(batch, 32, 11, 11))
    mask = torch.zeros(batch, 1, 81, 81)
    mask[:, :, 10:50, 20:70] = 1
    fast = query_prior(q, support_prior_keys(s, mask))
    ref = official_prior(q, s, mask)
    assert fast.shape == (batch, 1, 11, 11)
    assert torch.allclose(fast, ref, atol=1e-5)
    assert float(fast.min()) >= 0.0 and float(fast.max()) <= 1.0


def test_shared_support_keys_broadcast_over_queries():
    torch.manual_seed(1)
    q = torch.relu(torch.randn(4, 16, 9, 9))
    s = torch.relu(torch.randn(1, 16, 9, 9))
    mask = torch.ones(1, 1, 65, 65)
    keys = support_prior_keys(s, mask)
    together = query_prior(q, keys)
    alone = torch.cat([query_prior(q[i : i + 1], keys) for i in range(4)])
    assert torch.allclose(together, alone, atol=1e-6)


# -- APA -------------------------------------------------------------------------------------------
def test_apa_matches_definition():
    torch.manual_seed(0)
    apa = APA(text_dim=5, dim=8).eval()
    keys, text, proto = torch.randn(2, 8, 3, 4), torch.randn(2, 5), torch.randn(2, 8)
    k = apa.w_k(keys).flatten(2).transpose(1, 2)
    u = apa.w_q(torch.cat([text, proto], 1))
    score = torch.einsum("bc,cd,bnd->bn", u, apa.weight, k)
    expected = proto + apa.proj(torch.einsum("bn,bnd->bd", score.softmax(-1), k))
    assert torch.allclose(apa(keys, text, proto[:, :, None, None]), expected, atol=1e-5)


# -- Gram and shot weights -------------------------------------------------------------------------
def test_gram_matrix_is_channel_cosine():
    f = torch.randn(2, 6, 5, 5)
    g = gram_matrix(f)
    v = f.reshape(2, 6, 25)
    cos = F.cosine_similarity(v[:, :, None], v[:, None], dim=-1)
    assert torch.allclose(g, cos, atol=1e-5)
    assert torch.allclose(gram_distance(g, g), torch.zeros(2))
    assert torch.allclose(gram_distance(g, torch.zeros_like(g)), g.norm(dim=(1, 2)) / 6)


def test_shot_weights_follow_shots_when_permuted():
    torch.manual_seed(0)
    rw = build_shot_reweighter(4)
    for p in rw.parameters():
        torch.nn.init.uniform_(p, -1, 1)
    d = torch.tensor([[0.3, 0.1, 0.4, 0.2]])
    w = shot_weights(d, rw)
    perm = torch.tensor([2, 0, 3, 1])
    assert torch.allclose(shot_weights(d[:, perm], rw), w[:, perm], atol=1e-6)
    assert torch.allclose(w.sum(), torch.tensor(1.0))
    assert torch.equal(shot_weights(torch.tensor([[0.5]]), None), torch.ones(1, 1))
    with pytest.raises(ValueError):
        shot_weights(d, None)


# -- hyper-correlation -----------------------------------------------------------------------------
def test_hyper_correlation_matches_definition_and_empty_mask():
    torch.manual_seed(0)
    feats_q = [torch.randn(2, 6, 5, 5) for _ in range(3)]
    feats_s = [torch.randn(2, 6, 5, 5) for _ in range(3)]
    mask = torch.zeros(2, 1, 33, 33)
    mask[0, :, 8:24, 8:24] = 1  # item 1 has no foreground
    cols = support_columns(feats_s, mask)
    l4, l3, l2 = hyper_correlation(feats_q, cols, (1, 1, 1))
    assert l2.shape == l3.shape == l4.shape == (2, 1, 5, 5)
    m = F.interpolate(mask, size=(5, 5), mode="bilinear", align_corners=True)
    keep = m[0].flatten() == 1
    q = F.normalize(feats_q[0][0].flatten(1), dim=0, eps=0)
    s = feats_s[0][0].flatten(1)[:, keep]
    s = s / (s.norm(dim=0, keepdim=True) + 1e-5)
    q = feats_q[0][0].flatten(1)
    q = q / (q.norm(dim=0, keepdim=True) + 1e-5)
    expected = (q.T @ s).clamp_min(0).mean(1).reshape(5, 5)
    assert torch.allclose(l2[0, 0], expected, atol=1e-6)
    assert torch.count_nonzero(l2[1]) == 0


# -- the assembled model ---------------------------------------------------------------------------
@pytest.mark.parametrize("shots", [1, 3])
def test_forward_shapes(shots):
    model = tiny_model(shots)
    q, s, y, t = episode_tensors(model, batch=2, shots=shots)
    with torch.inference_mode():
        out = model(q, s, y, t)
    assert out.final.shape == (2, 2, 129, 129)
    assert out.meta.shape == (2, 2, 129, 129)
    assert out.base.shape == (2, 4, 129, 129)
    assert torch.isfinite(out.final).all()


def test_official_prior_path_agrees_with_fast_path():
    model = tiny_model(3)
    q, s, y, t = episode_tensors(model, batch=1, shots=3, seed=2)
    with torch.inference_mode():
        fast = model(q, s, y, t)
        ref = model(q, s, y, t, prior="official")
    for name in ("final", "meta", "base"):
        assert torch.allclose(getattr(fast, name), getattr(ref, name), atol=1e-4), name


def test_decode_with_shared_support_equals_batched_episodes():
    """Support encoded once (batch 1) and decoded against B queries = B full episodes."""
    model = tiny_model(1)
    q, s, y, t = episode_tensors(model, batch=3, shots=1, seed=3)
    s = s[:1].expand(3, -1, -1, -1, -1)
    y = y[:1].expand(3, -1, -1, -1)
    t = t[:1].expand(3, -1)
    with torch.inference_mode():
        episodes = model(q, s, y, t)
        shot = model.encode_support(s[:1, 0], y[:1, 0], t[:1])
        cached = model.decode(model.encode_query(q), [shot], t[:1])
    assert torch.allclose(cached.final, episodes.final, atol=1e-5)
    assert torch.allclose(cached.meta, episodes.meta, atol=1e-5)


def test_ensemble_uses_gram_and_base_branches():
    model = tiny_model(1)
    q, s, y, t = episode_tensors(model, batch=1, shots=1)
    with torch.inference_mode():
        shot = model.encode_support(s[:, 0], y[:, 0], t)
        out = model.decode(model.encode_query(q), [shot], t, upsample=False, return_aux=True)
        meta_p = out.meta.softmax(1)
        base_p = out.base.softmax(1)
        g, c = model.gram_merge.weight.flatten(), model.cls_merge.weight.flatten()
        est = out.aux["shot_weights"]  # K = 1 → weight 1; est enters through gram_merge
        assert est.shape == (1, 1)
        fg = out.final[:, 1]
        # fg = g0·meta_fg + g1·est ⇒ est is constant over the image
        est_map = (fg - g[0] * meta_p[:, 1]) / g[1]
        assert float(est_map.std()) < 1e-4
        bg = c[0] * (g[0] * meta_p[:, 0] + g[1] * est_map) + c[1] * base_p[:, 1:].sum(1)
        assert torch.allclose(out.final[:, 0], bg, atol=1e-4)


def test_meta_only_encoding_skips_base_learner():
    model = tiny_model(1)
    q, s, y, t = episode_tensors(model, batch=1, shots=1)
    with torch.inference_mode():
        shot = model.encode_support(s[:, 0], y[:, 0], t)
        full = model.decode(model.encode_query(q), [shot], t)
        meta_only = model.decode(model.encode_query(q, with_base=False), [shot], t)
    assert torch.allclose(meta_only.meta, full.meta, atol=1e-6)
    assert meta_only.base.shape[1] == 0


def test_exclude_base_class_changes_only_background():
    model = tiny_model(1)
    q, s, y, t = episode_tensors(model, batch=1, shots=1)
    with torch.inference_mode():
        a = model(q, s, y, t)
        b = model(q, s, y, t, exclude_base_class=torch.tensor([2]))
    assert torch.allclose(a.final[:, 1], b.final[:, 1])
    assert not torch.allclose(a.final[:, 0], b.final[:, 0])


def test_wrong_input_size_is_a_clear_error():
    model = tiny_model(1)
    with pytest.raises(ValueError, match=r"\[B,3,129,129\]"):
        model.encode_query(torch.zeros(1, 3, 100, 100))
