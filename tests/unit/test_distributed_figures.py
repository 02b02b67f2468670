"""The distributed-propagation figures quoted in docs/distributed.md and README.md are the committed JSON's.

The JSON is the raw output of ``python bench/bench_distributed.py ... --json docs/perf/distributed-cpu.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = json.loads((ROOT / "docs" / "perf" / "distributed-cpu.json").read_text(encoding="utf-8"))


RUNS = ("serial", "serial_1thread", "ray_1x2", "ray_2x1")


def rate(x: float) -> str:
    return f"{x:.2f} img/s"


def pct(x: float) -> str:
    return f"{100 * x:+.0f} %"


def quoted_in_docs() -> list[str]:
    runs, over, mem = DATA["runs"], DATA["ray_overhead"], DATA["driver_memory"]
    out = []
    for name in RUNS:
        out += [rate(runs[name]["images_per_s"]), f"{runs[name]['first_result_s']:.0f} s"]
    for o in over.values():
        out.append(pct(o["wall"]))
    out.append(f"{DATA['commit']['masks_per_s']:.0f} masks/s")
    out += [f"{mem['images']} images", f"{mem['rss_mb_at_10pct']:.0f} MB", f"{mem['rss_mb_max']:.0f} MB",
            rate(mem["images_per_s"])]
    out += [f"{runs[name]['wall_s']:.0f} s" for name in RUNS]
    out.append(f"{runs['serial']['images']} demo images")
    return out


def test_benchmark_json_is_complete_and_self_consistent():
    runs = DATA["runs"]
    assert set(runs) == set(RUNS)
    assert len({r["images"] for r in runs.values()}) == 1
    for name, r in runs.items():
        assert abs(r["images_per_s"] - r["images"] / r["wall_s"]) < 0.01, name
    for name in ("ray_1x2", "ray_2x1"):
        for ref in ("serial", "serial_1thread"):
            expect = 1 - runs[name]["images_per_s"] / runs[ref]["images_per_s"]
            assert abs(DATA["ray_overhead"][f"{name}_vs_{ref}"]["wall"] - expect) < 0.01
    mem = DATA["driver_memory"]
    assert mem["flat"] == (mem["rss_mb_max"] - mem["rss_mb_at_10pct"] <= max(16.0, 0.02 * mem["rss_mb_at_10pct"]))


def test_docs_quote_the_json():
    text = (ROOT / "docs" / "distributed.md").read_text(encoding="utf-8")
    missing = [q for q in quoted_in_docs() if q not in text]
    assert not missing, f"docs/distributed.md does not quote {missing} from docs/perf/distributed-cpu.json"


def test_readme_quotes_the_json():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    runs, over = DATA["runs"], DATA["ray_overhead"]
    for q in (rate(runs["serial"]["images_per_s"]), rate(runs["serial_1thread"]["images_per_s"]),
              rate(runs["ray_2x1"]["images_per_s"]), pct(over["ray_2x1_vs_serial_1thread"]["wall"]),
              f"{DATA['commit']['masks_per_s']:.0f} masks/s", f"{runs['ray_2x1']['first_result_s']:.0f} s",
              f"{runs['serial']['images']} demo images"):
        assert q in text, q
