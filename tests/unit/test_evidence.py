"""Every headline figure quoted in README.md, the demo model's README/metrics.json and
docs/performance.md equals its committed raw JSON (issue #14). Regenerate the JSON with the command
stored in it (or quoted next to the figure), then update the quoted figure."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "symnet_core" / "assets" / "demo"
PERF = REPO / "docs" / "perf"
EVAL_COMMAND = ("python -m symnet_core.training.evaluate --config symnet_core/assets/demo/demo.yaml "
                "--checkpoint symnet_core/assets/demo/demo_model.pth --episodes 1000 --seeds 321 --threads 2")


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _row(text: str, prefix: str) -> list[str]:
    """The numbers in the markdown table row starting with ``prefix``."""
    rows = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(rows) == 1, f"expected one row starting with {prefix!r}, found {len(rows)}"
    return re.findall(r"\d+\.\d+", rows[0].removeprefix(prefix))


def _f(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def test_demo_metrics_json_equals_the_raw_1000_episode_evaluation() -> None:
    raw, metrics = _json(DEMO / "eval_1000.json"), _json(DEMO / "metrics.json")
    assert raw["checkpoint"] == "symnet_core/assets/demo/demo_model.pth"
    assert raw["episodes"] == 1000 and raw["seeds"] == [321] and raw["split"] == "test" and raw["shots"] == 1
    assert metrics["command"] == EVAL_COMMAND
    summary = metrics["test_1000"]
    assert summary["episodes"] == raw["episodes"] and summary["seeds"] == raw["seeds"]
    for key in ("miou", "fbiou", "miou_meta", "fbiou_meta", "miou_prior", "fbiou_prior"):
        assert summary[key] == round(raw["mean"][key], 4), key


def test_demo_readme_table_and_per_class_figures() -> None:
    raw = _json(DEMO / "eval_1000.json")
    mean, per_class = raw["mean"], raw["runs"][0]["per_class"]
    text = (DEMO / "README.md").read_text(encoding="utf-8")
    assert EVAL_COMMAND.replace(" --checkpoint", " \\\n    --checkpoint") in text
    assert _row(text, "| Sym-Net ensemble (this model)") == [_f(mean["miou"], 3), _f(mean["fbiou"], 3)]
    assert _row(text, "| meta learner only") == [_f(mean["miou_meta"], 3), _f(mean["fbiou_meta"], 3)]
    baseline = _row(text, "| parameter-free baseline: SPM prior alone, thresholded at 0.5 |")
    assert baseline == [_f(mean["miou_prior"], 3), _f(mean["fbiou_prior"], 3)]
    previous = _json(PERF / "demo_previous_model_eval_1000.json")["mean"]
    assert _row(text, "| previous demo model") == [_f(previous["miou"], 3), _f(previous["fbiou"], 3)]
    flat = " ".join(text.replace("**", "").split())
    for name, value in per_class.items():
        assert f"{name} {_f(value, 3)}" in flat, name


def test_readme_status_line() -> None:
    mean = _json(DEMO / "eval_1000.json")["mean"]
    text = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert f"held-out 1-shot mIoU {_f(mean['miou'], 2)} vs {_f(mean['miou_prior'], 2)} for the parameter-free" in text


def test_performance_project_open_row() -> None:
    doc = _json(PERF / "project_open.json")
    out = doc["output"]
    text = (REPO / "docs" / "performance.md").read_text(encoding="utf-8")
    assert doc["command"] in text and out["images"] == 10000
    assert _row(text, "| re-measured, load average") == [
        _f(doc["load_average_1min_at_start"], 1), _f(out["open_s_first"], 2), _f(out["open_s_second"], 2),
        _f(out["peak_rss_mb"], 1)]


def test_every_raw_file_names_its_command() -> None:
    for path in PERF.glob("*.json"):
        assert _json(path).get("command"), f"{path.name} does not say how it was made"


def test_performance_mask_agreement_table() -> None:
    doc = _json(PERF / "cpu-agreement.json")
    agr = doc["agreement"]
    text = (REPO / "docs" / "performance.md").read_text(encoding="utf-8")
    assert doc["command"] in text
    assert _row(text, "| IoU of bf16 masks vs fp32 masks, pooled")[0] == _f(agr["agreement_iou_pooled"], 4)
    assert _row(text, "| same, mean over classes / worst class") == [
        _f(agr["agreement_iou_mean_over_classes"], 4), _f(agr["agreement_iou_min_class"], 4)]
    assert f"| pixels whose label changes | {100 * agr['changed_pixel_fraction']:.3f} % | |" in text
    assert _row(text, "| mIoU vs ground truth, fp32 / bf16") == [_f(agr["miou_reference"], 4), _f(agr["miou_fast"], 4)]
    med = agr["predict_ms_median"]
    assert f"{med['reference']:.0f} ms in fp32 and {med['fast']:.0f} ms in bf16" in text
    assert doc["machine"]["native_bf16"] is False
