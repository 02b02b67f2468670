""""Which image next": the figures docs/gui.md quotes equal the committed benchmark JSON.

Regenerate with the command stored in the JSON (``bench/bench_suggest.py``), then update the table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from symnet_core.workflows.suggest import DEFAULT_UNCERTAINTY_WEIGHT

REPO = Path(__file__).resolve().parents[2]
CPU = REPO / "docs" / "perf" / "suggest-cpu.json"
GPU = REPO / "docs" / "perf" / "suggest-h200.json"
ROWS = {  # table row prefix in docs/gui.md -> strategy in the JSON
    "| random |": "random",
    "| lowest confidence first (w = 1) |": "confidence",
    "| w = 0.8 |": "w0.8",
    "| k-center + confidence (w = 0.5) |": "suggested",
    "| k-center only (w = 0) |": "coverage",
}


def _doc() -> str:
    return (REPO / "docs" / "gui.md").read_text(encoding="utf-8")


def _numbers(prefix: str) -> list[str]:
    rows = [line for line in _doc().splitlines() if line.startswith(prefix)]
    assert len(rows) == 1, f"expected one row starting with {prefix!r}"
    return re.findall(r"[+-]?\d+\.\d+", rows[0].removeprefix(prefix))


def test_the_table_equals_the_cpu_run():
    raw = json.loads(CPU.read_text(encoding="utf-8"))
    assert raw["command"].startswith("python bench/bench_suggest.py")
    assert raw["seeds"] == 5 and raw["steps"] == 4 and len(raw["classes"]) == 6 and raw["device"] == "cpu"
    s = raw["summary"]
    for prefix, strategy in ROWS.items():
        want = [f"{100 * r['miou_mean']:.1f}" for m in ("held_out", "folder") for r in s[m][strategy]]
        assert _numbers(prefix) == want, prefix
    start = [f"{100 * s[m]['start_1_support']:.1f}" for m in ("held_out", "folder")]
    assert _numbers("| start: 1 support |") == start
    wins = s["folder"]["seeds_where_confidence_beats_random"]
    assert f"better than random in {min(wins)}–{max(wins)} of 5 seeds" in _doc()


def test_the_h200_run_of_the_first_configuration_agrees():
    gpu, cpu = (json.loads(p.read_text(encoding="utf-8")) for p in (GPU, CPU))
    assert gpu["device"].startswith("cuda") and gpu["seeds"] == cpu["seeds"] and gpu["pool"] == cpu["pool"]
    for metric in ("held_out", "folder"):
        for strategy in ("random", "confidence", "suggested", "coverage"):
            for a, b in zip(gpu["summary"][metric][strategy], cpu["summary"][metric][strategy], strict=True):
                assert abs(a["miou_mean"] - b["miou_mean"]) < 0.01, (metric, strategy)


def test_the_shipped_weight_is_the_one_the_docs_name():
    assert f"default uncertainty weight is **{DEFAULT_UNCERTAINTY_WEIGHT:g}**" in _doc()
