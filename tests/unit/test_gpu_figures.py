"""Every GPU figure quoted in docs/performance.md comes from the committed raw output.

No GPU needed: this reads ``docs/perf/gpu-bench-h200.json`` (written by ``symnet-bench --device
cuda`` on the lent H200, ``scripts/gpu_session.sh``) and checks that the "GPU" section quotes
its values as written there (or rounded as the section says).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RAW = REPO / "docs" / "perf" / "gpu-bench-h200.json"
DOC = REPO / "docs" / "performance.md"


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(RAW.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def section() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index("## GPU (issue #19)") :]


@pytest.fixture(scope="module")
def flat(section: str) -> str:
    """The section with line breaks and runs of spaces as single spaces (prose wraps)."""
    return " ".join(section.split())


def _get(d: dict, path: str) -> object:
    for key in path.split("/"):
        d = d[key]  # type: ignore[assignment]
    return d


def test_device_is_quoted(raw: dict, flat: str) -> None:
    section = flat
    dev = raw["device"]
    assert f"**{dev['name']}**" in section
    assert f"{dev['multiprocessors']}" in section and f"{dev['memory_gib']} GiB" in section
    assert dev["torch"] in section and f"cuDNN {dev['cudnn']}" in section
    assert f"{'.'.join(map(str, dev['capability']))}" in section


def test_model_only_table(raw: dict, section: str) -> None:
    for size, by_precision in raw["model_only"].items():
        for precision, by_batch in by_precision.items():
            row = next(line for line in section.splitlines() if line.startswith(f"| {size} | {precision} |"))
            for b in ("1", "16", "64"):
                fig = by_batch[b]
                assert f"{fig['queries_per_s']}" in row and f"({fig['ms_per_forward']})" in row, (size, precision, b)
            assert " / ".join(str(by_batch[b]["peak_memory_mib"]) for b in ("1", "16", "64")) in row
    m = raw["model_only"]
    one = [m["473"][p]["1"]["queries_per_s"] for p in ("fp32", "bf16", "fp16")]
    flat = " ".join(section.split())
    assert f"every precision runs at {round(min(one))}–{round(max(one))} q/s" in flat
    ratios = {(size, b): m[size]["fp32"][b]["ms_per_forward"] / m[size]["bf16"][b]["ms_per_forward"]
              for size in ("473", "641") for b in ("16", "64")}  # fmt: skip
    assert {f"{r:.1f}" for k, r in ratios.items() if k != ("641", "64")} == {"1.8", "1.9"}
    assert f"bf16 is 1.8–1.9× fp32 at B ≥ 16 ({ratios['641', '64']:.1f}× at 641, B = 64)" in flat
    goal = raw["model_only"]["473"]["bf16"]
    assert f"met — {goal['16']['queries_per_s']} at B = 16, {goal['64']['queries_per_s']} at B = 64" in section
    assert goal["16"]["queries_per_s"] >= 200  # the goal, as measured (not a timing of this machine)


def test_channels_last_and_predictor(raw: dict, flat: str) -> None:
    section = flat
    cl = raw["channels_last"]
    assert f"{cl['nchw_ms_per_forward']} ms per forward in NCHW, {cl['nhwc_ms_per_forward']} ms in NHWC" in section
    assert f"**{cl['speedup_nhwc']}×**" in section
    for size, by_precision in raw["predictor"].items():
        quoted = ", ".join(f"{p} {v['images_per_s']}" for p, v in by_precision.items())
        assert f"{size} — {quoted} images/s" in section


def test_propagation(raw: dict, flat: str) -> None:
    section = flat
    prop = raw["propagation"]
    assert prop["images"] == 1000 and prop["precision"] == "bf16" and prop["batch_size"] == 16
    assert f"{prop['decode_only_one_thread']['images_per_s']} images/s" in section
    for workers, run in prop["runs_by_loader_workers"].items():
        assert run["predicted"] == 999 and run["failed"] == 0
        assert f"{run['wall_s']} s → **{run['images_per_s']} images/s**" in section, workers
        for key in ("predictor_s", "network_s", "save_s"):
            assert f"{run[key]} s ({100 * run['share_of_wall'][key[:-2]]:.1f} %)" in section, (workers, key)
    seq, par = prop["runs_by_loader_workers"]["0"], prop["runs_by_loader_workers"]["4"]
    assert f"{seq['decode_thread_s']} s ({100 * seq['share_of_wall']['decode_thread']:.1f} % of wall)" in section
    wait = f"{par['wait_for_loader_s']} s ({100 * par['share_of_wall']['wait_for_loader']:.1f} %)"
    assert f"main thread waits {wait}" in section


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_agreement(raw: dict, flat: str, precision: str) -> None:
    section = flat
    a = raw["agreement"][precision]
    assert a["classes"] == 6 and a["queries_per_class"] == 50
    assert a["agreement_iou_pooled"] >= 0.98
    for value in (a["agreement_iou_pooled"], a["agreement_iou_mean_over_classes"], a["agreement_iou_min_class"],
                  a["max_abs_probability_diff"], a["miou_reference"], a["miou_fast"]):  # fmt: skip
        assert f"{value:.4f}" in section, value
    assert f"{100 * a['changed_pixel_fraction']:.4f} %" in section
    med = a["predict_ms_median"]
    assert f"{med['reference']}" in section and f"{med['fast']}" in section


def test_gpu_training_attempts_in_training_md() -> None:
    """docs/training.md quotes the committed 1000-episode evaluations of the two GPU attempts."""
    text = " ".join((REPO / "docs" / "training.md").read_text(encoding="utf-8").split())
    part = text[text.index("## The demo model on a GPU") :]
    folder = REPO / "docs" / "perf" / "training-h200"
    for n in (1, 2):
        run = json.loads((folder / f"eval_attempt{n}.json").read_text(encoding="utf-8"))["runs"][0]
        assert run["episodes"] == 1000 and run["seed"] == 321
        assert (f"{run['miou']:.3f} (meta-only {run['miou_meta']:.3f}, SPM prior {run['miou_prior']:.3f})") in part
        assert run["miou"] < 0.707  # why the bundled model was not replaced
        assert f"{run['per_class']['orange-teal mottled triangle']:.3f}" in part
