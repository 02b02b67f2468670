"""``symnet-bench`` code paths on a tiny model (CPU, seconds; no timed assertions)."""

from __future__ import annotations

import json

import pytest
import torch

from symnet_core.benchmarks import agreement as bench_agreement
from symnet_core.benchmarks import cpu as bench_cpu
from symnet_core.cli import bench
from symnet_core.inference.predictor import Predictor
from symnet_core.model.checkpoints import save_checkpoint
from symnet_core.training.synthetic.generator import HashTextEmbedder, SyntheticFewShot

try:
    from tests.model_helpers import tiny_model
except ImportError:  # tests/ on sys.path
    from model_helpers import tiny_model

QUERY_HW = ("48", "64")


@pytest.fixture(scope="module")
def dataset() -> SyntheticFewShot:
    return SyntheticFewShot(3, n_classes=6, held_out=2, size_range=(64, 96), min_main_fraction=0.08)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, dataset: SyntheticFewShot) -> str:
    """A tiny 1-shot model saved with the metadata of a synthetic-data checkpoint."""
    path = tmp_path_factory.mktemp("bench") / "tiny.pth"
    save_checkpoint(tiny_model(1), path, text_encoder={"kind": "hashed", "salt": "test"},
                    metadata={"data": {"kind": "synthetic", **dataset.describe()}})  # fmt: skip
    return str(path)


@pytest.fixture(scope="module")
def report(checkpoint: str) -> dict:
    """One ``symnet-bench`` run with every option on (two thread counts, batches, bf16, profile, agreement)."""
    import contextlib
    import io

    out = io.StringIO()
    threads = torch.get_num_threads()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            rc = bench.main([
                "--checkpoint", checkpoint, "--shots", "1", "--threads", "1", "2", "--repeats", "1", "--warmup", "0",
                "--batch-sizes", "1", "3", "--query-size", *QUERY_HW, "--profile",
                "--agreement", "--agreement-checkpoint", checkpoint, "--agreement-queries", "1",
            ])  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    return json.loads(out.getvalue())


def test_json_is_keyed_by_threads_and_shots(report: dict) -> None:
    assert set(report["threads"]) == {"1", "2"}
    assert report["threads"]["2"]["threads"] == 2
    for t in ("1", "2"):
        r = report["threads"][t]["shots"]["1"]
        for key in ("episode_official_prior_ms", "episode_fast_prior_ms", "cached_query_ms", "decode_ms", "floor_ms",
                    "backbone_ms", "predictor_ms", "cached_vs_floor", "cached_vs_episode_official"):  # fmt: skip
            assert r[key] > 0, key
        # one round: the paired ratio is the ratio of that round's times (the ms are rounded to 0.1)
        assert r["cached_vs_floor"] == pytest.approx(r["cached_query_ms"] / r["floor_ms"], rel=0.05)
        assert r["max_abs_diff_final"] <= 1e-4
        assert set(r["batch"]) == {"fp32", "bf16"}
        assert set(r["batch"]["fp32"]) == {"1", "3"}
        assert set(r["batch_speedup_per_query"]["bf16"]) == {"3"}
        assert r["max_abs_diff_batched"]["fp32"] <= 1e-5
        fast = r["bf16"]
        assert {"cached_query_ms", "decode_ms", "floor_ms", "predictor_ms", "speedup_cached_query",
                "speedup_predictor", "max_abs_diff_final_vs_fp32"} <= set(fast)  # fmt: skip
        assert set(report["summary"][t]["1-shot"]) >= {"cached_vs_floor", "bf16_speedup_cached", "bf16_cached_vs_floor"}
    machine = report["machine"]
    assert {"cpu_capability", "native_bf16", "onednn_bf16", "load_average_at_start"} <= set(machine)


def test_interleaved_rounds_and_paired_ratios() -> None:
    calls: list[str] = []
    med, rounds = bench_cpu._interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, {"a": 1})
    assert calls == ["a", "a", "b", "a", "b", "a", "b"]  # one warm-up of a, then a/b alternate
    assert len(rounds) == 3 and set(med) == {"a", "b"}
    rounds = [{"a": 2.0, "b": 1.0}, {"a": 9.0, "b": 3.0}, {"a": 4.0, "b": 1.0}]
    assert bench_cpu._paired(rounds, "a", "b") == 3.0  # median of the per-round ratios 2, 3, 4 (not 4 / 1)
    assert bench_cpu._paired(rounds, "b", "a", scale=4) == 1.333


def test_profile_reports_decode_stages(report: dict) -> None:
    prof = report["profile"]["1"]
    stages = prof["stages_ms"]
    assert any(name.startswith("hyper-correlation") for name in stages)
    assert any(name.startswith("SPM query_prior") for name in stages)
    assert prof["top_ops"] and all(op["self_ms"] >= 0 for op in prof["top_ops"])
    assert prof["support_columns"] >= 1


def test_profile_labels_are_removed_afterwards() -> None:
    from symnet_core.model import symnet as symnet_module

    model = tiny_model(1)
    before = symnet_module.mean_hyper_correlation
    bench_cpu.profile_decode(model, 1, (48, 64), runs=1, top=3)
    assert symnet_module.mean_hyper_correlation is before
    assert "forward" not in model.hyper_final.__dict__
    assert "_ensemble" not in model.__dict__


def test_agreement_section(report: dict, dataset: SyntheticFewShot) -> None:
    agr = report["agreement"]
    assert agr["precisions"] == {"reference": "fp32", "fast": "bf16"}
    assert agr["classes"] == len(dataset.novel_classes)
    assert 0.0 <= agr["agreement_iou_pooled"] <= 1.0
    assert 0.0 <= agr["miou_reference"] <= 1.0 and 0.0 <= agr["miou_fast"] <= 1.0


def test_batched_and_unbatched_cached_outputs_agree() -> None:
    model = tiny_model(2)
    text = torch.linspace(-1, 1, model.config.text_dim)[None]
    queries = bench_cpu._queries(model, (48, 64), 5)
    support = queries[4:5] * 0.5
    label = torch.zeros(1, model.config.image_size, model.config.image_size)
    label[:, 30:90, 40:100] = 1
    with torch.inference_mode():
        encoded = [model.encode_support(support, label, text), model.encode_support(queries[3:4], label, text)]
    one = bench_cpu.cached_outputs(model, encoded, text, queries, 1)
    for b in (2, 4, 5):
        assert (bench_cpu.cached_outputs(model, encoded, text, queries, b) - one).abs().max() <= 1e-5
    assert not torch.equal(one[0], one[1])  # distinct queries, so rows are not trivially equal


def test_fp32_agrees_exactly_with_itself(dataset: SyntheticFewShot) -> None:
    model = tiny_model(1)
    embedder = HashTextEmbedder(model.config.text_dim)

    def make(precision: str) -> Predictor:
        return Predictor(model, "cpu", text_embedder=embedder, precision=precision)

    agr = bench_agreement.mask_agreement(make, dataset, 2, precisions=("fp32", "fp32"))
    assert agr["agreement_iou_pooled"] == 1.0
    assert agr["changed_pixel_fraction"] == 0.0
    assert agr["max_abs_probability_diff"] == 0.0
    assert agr["miou_reference"] == agr["miou_fast"]
    assert all(c["agreement_iou"] == 1.0 for c in agr["per_class"].values())


def test_dataset_from_metadata_rebuilds_the_dataset(dataset: SyntheticFewShot) -> None:
    rebuilt = bench_agreement.dataset_from_metadata({"data": {"kind": "synthetic", **dataset.describe()}})
    assert rebuilt.describe() == dataset.describe()  # type: ignore[attr-defined]
    img_a, lab_a = rebuilt.class_scene(dataset.novel_classes[0], 11, "test")  # type: ignore[attr-defined]
    img_b, lab_b = dataset.class_scene(dataset.novel_classes[0], 11, "test")
    assert (img_a == img_b).all() and (lab_a == lab_b).all()
    with pytest.raises(ValueError, match="synthetic"):
        bench_agreement.dataset_from_metadata({"data": {"kind": "pascal"}})


def test_gpu_benchmark_code_paths_on_the_cpu() -> None:
    """``symnet_core.benchmarks.gpu`` (``symnet-bench --device cuda``) runs on the CPU for this test only;
    tests/test_gpu.py runs it on a GPU."""
    from symnet_core.benchmarks import gpu as bench_gpu

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        r = bench_gpu.run("cpu", image_sizes=(65,), batch_sizes=(1, 2), precisions=("fp32",), layers=50,
                          query_hw=(40, 50), repeats=1, warmup=0, model_overrides={"backbone_width": 8})  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    row = r["model_only"]["65"]["fp32"]["2"]
    assert row["queries_per_s"] > 0 and row["ms_per_query"] == pytest.approx(row["ms_per_forward"] / 2, rel=0.01)
    assert r["channels_last"]["speedup_nhwc"] > 0
    assert r["predictor"]["65"]["fp32"]["images"] == 8
