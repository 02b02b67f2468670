"""Training, losses, evaluation and the shipped demo model (CPU, tiny configs, seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from symnet_core.assets import demo_dir
from symnet_core.model.checkpoints import load_checkpoint, read_checkpoint
from symnet_core.model.prototypes import QueryPrototypes
from symnet_core.model.symnet import SupportEncoding
from symnet_core.training import evaluate as evaluate_mod
from symnet_core.training.config import load_config
from symnet_core.training.datasets import build_data, sample_episode
from symnet_core.training.evaluate import IoUAccumulator, episode_tensors, evaluate_episodes
from symnet_core.training.losses import query_triplet, support_triplet
from symnet_core.training.synthetic.generator import dataset_from_metadata, demo_dataset
from symnet_core.training.text import ClassTextTable, build_embedder
from symnet_core.training.train import lr_at, run_training

REPO = Path(__file__).resolve().parents[2]
DEMO = demo_dir()

#: A narrow ResNet-50 on 65 px inputs (9×9 grid); small, easier synthetic scenes (6 classes, 2 of
#: them novel, large objects, at most one distractor, little clutter) so that a few seconds of
#: training show an effect.
TINY = {
    "seed": 5,
    "threads": 1,
    "val_every": 0,
    "val_episodes": 12,
    "log_every": 10,
    "save_every": 0,
    "model": {"backbone_width": 8, "reduce_dim": 16, "image_size": 65},
    "data": {"kind": "synthetic", "synthetic": {
        "seed": 3, "n_classes": 6, "held_out": 2, "size_range": [56, 72], "min_main_fraction": 0.04,
        "object_scale": 1.8, "max_distractors": 1, "clutter": 0.3, "val_items": 24, "test_items": 48}},
    "text": {"kind": "hashed", "dim": 8},
    "augment": {"scale": [0.95, 1.05]},
    "eval": {"episodes": 24, "seeds": [11], "batch_size": 12},
}  # fmt: skip


def tiny_config(out: Path, stage: str, **changes: object):
    data = json.loads(json.dumps(TINY))
    data.update(stage=stage, output_dir=str(out), name=f"tiny-{stage}")
    for key, value in changes.items():
        node = data
        *parents, leaf = key.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return load_config(data=data)


# ---------------------------------------------------------------------------------------- units


def test_poly_schedule():
    assert lr_at(0, 100, 0.05) == pytest.approx(0.05)
    assert lr_at(50, 100, 0.05) == pytest.approx(0.05 * 0.5**0.9)
    assert lr_at(100, 100, 0.05) == 0.0
    assert lr_at(0, 100, 0.05, warmup=10) == pytest.approx(0.005)
    assert lr_at(9, 100, 0.05, warmup=10) == pytest.approx(0.05)


def test_support_triplet_hardest_positive_and_mean_negative():
    c, f = 2, 2
    mid = torch.zeros(1, c, f, f)
    mid[0, :, 0, 0] = torch.tensor([1.0, 0.0])  # positive, equal to the anchor
    mid[0, :, 0, 1] = torch.tensor([0.0, 1.0])  # positive, far from the anchor (the hardest)
    mid[0, :, 1, :] = torch.tensor([-1.0, 0.0])[:, None]  # negatives, opposite
    labels = torch.tensor([[[[1, 1], [0, 0]]]], dtype=torch.float32)
    shot = SupportEncoding(mask=labels, gram=torch.zeros(1), prior_keys=None, columns=[], text_prototype=None,  # type: ignore[arg-type]
                           mid=mid, mask_grid=labels)  # fmt: skip
    anchor = torch.tensor([[1.0, 0.0]])
    loss = support_triplet(anchor, [shot], labels, margin=0.5)
    assert float(loss) == pytest.approx(max(0.0, 0.5 + 2**0.5 - 2.0))
    loss = support_triplet(anchor, [shot], labels, margin=1.0)
    assert float(loss) == pytest.approx(1.0 + 2**0.5 - 2.0)
    # no foreground on the grid -> skipped -> zero
    assert float(support_triplet(anchor, [shot], torch.zeros_like(labels), margin=0.5)) == 0.0


def test_query_triplet():
    a = torch.tensor([[1.0, 0.0]])
    protos = QueryPrototypes(a, torch.tensor([[0.0, 1.0]]), torch.tensor([[-1.0, 0.0]]))
    assert float(query_triplet(a, protos, 0.5)) == pytest.approx(max(0.0, 0.5 + 2**0.5 - 2.0))
    assert float(query_triplet(a, protos, 1.0)) == pytest.approx(1.0 + 2**0.5 - 2.0)


def test_iou_accumulator_matches_definition():
    acc = IoUAccumulator([1, 2])
    pred = torch.tensor([[[1, 1, 0, 0]], [[0, 0, 0, 1]]])
    target = torch.tensor([[[1, 0, 0, 255]], [[0, 0, 1, 1]]])
    acc.update(pred, target, [1, 2])
    acc.update(pred[:1], target[:1], [1])
    assert acc.class_iou() == {1: pytest.approx(2 / 4), 2: pytest.approx(1 / 2)}
    assert acc.miou() == pytest.approx((0.5 + 0.5) / 2)
    # background: episode 1: pred0&t0 = 1 (idx2), union = 2 (idx1, idx2) twice; episode 2: inter 2 union 3
    assert acc.fbiou() == pytest.approx(((1 + 1 + 2) / (2 + 2 + 3) + (1 + 1 + 1) / (2 + 2 + 2)) / 2)


# ---------------------------------------------------------------------------------------- training


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: on a shared 2-core machine two OpenMP threads can be many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Base stage then meta stage on tiny synthetic data: (tmp dir, meta config, result, untrained reference).

    The reference is the same model after one step with a negligible learning rate: trained
    backbone and base learner, untrained (identically initialised) head.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("train")
    base_cfg = tiny_config(tmp / "base", "base", optim={"iterations": 60, "batch_size": 8, "lr": 0.005,
                                                        "optimizer": "adamw", "warmup_iters": 5})  # fmt: skip
    base = run_training(base_cfg)
    meta_cfg = tiny_config(tmp / "meta", "meta", init_checkpoint=str(base.final),
                           optim={"iterations": 80, "batch_size": 8, "lr": 0.05, "warmup_iters": 5})  # fmt: skip
    untrained = tiny_config(tmp / "untrained", "meta", init_checkpoint=str(base.final),
                            optim={"iterations": 1, "lr": 1e-12})  # fmt: skip
    ref = run_training(untrained)
    result = run_training(meta_cfg)
    torch.set_num_threads(before)
    return tmp, meta_cfg, result, ref


def _roc_auc(score: np.ndarray, target: np.ndarray) -> float:
    """Probability that a random object pixel scores higher than a random background pixel."""
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    pos = target == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _heldout_auc(checkpoint: Path, cfg, episodes: int = 48) -> dict[str, float]:
    """Foreground ROC-AUC of the meta output and of the SPM prior on test episodes of the novel classes."""
    model = load_checkpoint(checkpoint)
    data = build_data(cfg.data)
    text = ClassTextTable(build_embedder(cfg.text), data.class_names)
    rng = np.random.default_rng(11)
    eps = [sample_episode(data.test, i, rng, 1, data.lut) for i in range(episodes)]
    q, y, s, sl, tv = episode_tensors(eps, model.config.image_size, text, torch.device("cpu"))
    with torch.no_grad():
        out = model.decode(model.encode_query(q), [model.encode_support(s[:, 0], sl[:, 0], tv)], tv, return_aux=True)
    prior = torch.nn.functional.interpolate(out.aux["prior"], size=y.shape[-2:], mode="bilinear", align_corners=True)
    keep = (y != 255).numpy().ravel()
    target = y.numpy().ravel()[keep]
    return {
        "meta": _roc_auc(out.meta.softmax(1)[:, 1].numpy().ravel()[keep], target),
        "prior": _roc_auc(prior[:, 0].numpy().ravel()[keep], target),
    }


def test_short_training_learns_novel_classes(trained):
    """Loss goes down, and on held-out classes the trained head ranks object pixels above background
    far better than the untrained head (and better than the parameter-free SPM prior)."""
    tmp, cfg, result, untrained = trained
    base_losses = [float(r["total"]) for r in csv_rows(tmp / "base" / "log.csv") if r["total"]]
    assert base_losses[-1] < base_losses[0] - 0.5, base_losses
    losses = [float(r["main"]) for r in csv_rows(tmp / "meta" / "log.csv") if r["main"]]
    assert losses[-1] < losses[0] - 0.1, losses
    before, after = _heldout_auc(untrained.final, cfg), _heldout_auc(result.final, cfg)
    assert after["meta"] > before["meta"] + 0.15, (before, after)
    assert after["meta"] > after["prior"], after


def test_checkpoint_metadata(trained):
    result = trained[2]
    info, _ = read_checkpoint(result.final)
    assert info.source == "symnet-annotate" and info.dataset == "synthetic"
    assert info.text_encoder == {"kind": "hashed", "dim": 8, "salt": "symnet-synthetic"}
    assert len(info.base_classes) == 4 and info.config.image_size == 65
    meta = info.metadata
    assert meta["stage"] == "meta" and meta["train"]["iterations"] == 80
    assert meta["training_config"]["optim"]["lr"] == 0.05 and "miou" in meta["val"]
    assert meta["data"]["novel_classes"] == [5, 6] and meta["code_version"]
    assert (result.final.parent / "log.csv").is_file() and (result.final.parent / "summary.json").is_file()


def csv_rows(path: Path):
    import csv

    with path.open(newline="") as f:
        yield from csv.DictReader(f)


def test_resume_continues_exactly(tmp_path):
    kw = {"optim": {"iterations": 4, "batch_size": 2, "lr": 0.05}, "data__synthetic__val_items": 6,
          "val_episodes": 4, "eval__batch_size": 6}  # fmt: skip
    straight = run_training(tiny_config(tmp_path / "a", "meta", **kw))
    cfg = tiny_config(tmp_path / "b", "meta", **kw)
    half = run_training(cfg, stop_after=2)
    assert half.iterations == 2 and not (Path(cfg.output_dir) / "final.pth").exists()
    resumed = run_training(cfg, resume="auto")
    assert resumed.iterations == 4
    a, b = read_checkpoint(straight.final)[1], read_checkpoint(resumed.final)[1]
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = list(csv_rows(Path(cfg.output_dir) / "log.csv"))
    assert [r["iteration"] for r in rows if r["total"]] == ["4"]


def test_base_stage_with_attribute_heads(tmp_path):
    cfg = tiny_config(tmp_path, "base", loss={"attribute_weight": 0.5}, log_every=2, val_episodes=4,
                      optim={"iterations": 4, "batch_size": 4, "lr": 0.003, "optimizer": "adamw"})  # fmt: skip
    result = run_training(cfg)
    rows = [r for r in csv_rows(tmp_path / "log.csv") if r["total"]]
    assert len(rows) == 2 and all(float(r["attributes"]) > 0 for r in rows)
    info, state = read_checkpoint(result.final)
    assert not any("attr" in k for k in state)  # the temporary heads are not saved
    assert info.metadata["stage"] == "base"
    assert info.metadata["resize_mode"] == "shrink-only"  # the letterbox its validation used


def test_eval_prints_identical_numbers_twice(trained, capsys, tmp_path):
    _, cfg, result, _ = trained
    cfg_path = tmp_path / "eval.yaml"
    import yaml

    from symnet_core.training.config import config_to_dict

    cfg_path.write_text(yaml.safe_dump(config_to_dict(cfg)))
    args = ["--config", str(cfg_path), "--checkpoint", str(result.final), "--episodes", "12", "--seeds", "4,5"]
    assert evaluate_mod.main(args) == 0
    first = capsys.readouterr().out
    assert evaluate_mod.main([*args, "--json", str(tmp_path / "r.json")]) == 0
    second = capsys.readouterr().out
    strip = lambda s: [ln.rsplit("(", 1)[0] for ln in s.splitlines()]  # noqa: E731  drop the timing suffix
    assert strip(first) == strip(second)
    assert "seed 4: mIoU" in first and "SPM-prior baseline" in first
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["seeds"] == [4, 5] and len(report["runs"]) == 2 and 0 <= report["mean"]["miou"] <= 1


# ---------------------------------------------------------------------------------------- demo model


@pytest.mark.skipif(not (DEMO / "demo_model.pth").is_file(), reason="no demo checkpoint committed yet")
def test_demo_checkpoint_reaches_documented_miou():
    expected = json.loads((DEMO / "metrics.json").read_text())
    ckpt = DEMO / "demo_model.pth"
    assert ckpt.stat().st_size <= 20 * 1024 * 1024
    model = load_checkpoint(ckpt)
    info = model.checkpoint_info
    assert info.dataset == "synthetic" and info.text_encoder["kind"] == "hashed"
    # the demo folder (symnet-annotate --demo) shows a class this model held out
    assert dataset_from_metadata(info.metadata["data"]).classes == demo_dataset().classes
    cfg = load_config(DEMO / "demo.yaml")
    data = build_data(cfg.data)
    text = ClassTextTable(build_embedder(cfg.text), data.class_names)
    sub = expected["test_subset"]
    torch.set_num_threads(2)
    r = evaluate_episodes(model, data.test, text, data.lut, episodes=sub["episodes"], seed=sub["seed"],
                          batch_size=cfg.eval.batch_size)  # fmt: skip
    assert r.miou == pytest.approx(sub["miou"], abs=0.02)
    assert r.miou_prior == pytest.approx(sub["miou_prior"], abs=0.02)
    assert r.miou > r.miou_prior + 0.1
    assert np.isfinite(r.fbiou)


def test_time_budget_lowers_the_iterations_and_records_them(tmp_path):
    cfg = tiny_config(tmp_path, "meta", val_episodes=4, num_workers=1, data__synthetic__val_items=6,
                      eval__batch_size=6, optim={"iterations": 100_000, "batch_size": 2, "lr": 0.05,
                                                 "warmup_iters": 10})  # fmt: skip
    result = run_training(cfg, time_budget=20.0)
    assert 10 < result.iterations < 100_000
    info, _ = read_checkpoint(result.final)
    assert info.metadata["training_config"]["optim"]["iterations"] == result.iterations
    note = info.metadata["train"]["time_budget"]
    assert note["configured_iterations"] == 100_000 and note["calibrated_at"] == 10
    assert note["iterations"] == result.iterations
