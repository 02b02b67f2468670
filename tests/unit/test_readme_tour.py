"""README's "Where things live" tour names real files and folders (it must follow the tree)."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _tour_paths() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("### Where things live")
    rows = [line for line in text[start:].splitlines()[1:] if line.startswith("|")]
    paths = []
    for row in rows:
        cells = row.strip("|").split("|")
        if len(cells) == 2:
            paths += [p for p in re.findall(r"`([^`]+)`", cells[1]) if p.startswith(("symnet_core/", "symnet_gui/"))]
    return paths


def test_every_path_of_the_tour_exists():
    paths = _tour_paths()
    assert len(paths) >= 20, f"tour not found or too short: {paths}"
    missing = [p for p in paths if not (REPO_ROOT / p).exists()]
    assert not missing, f"README's tour names paths that do not exist: {missing}"


def test_every_core_room_is_in_the_tour():
    paths = _tour_paths()
    rooms = sorted(p.name for p in (REPO_ROOT / "symnet_core").iterdir() if p.is_dir() and not p.name.startswith("_")
                   and (p / "__init__.py").exists())  # fmt: skip
    absent = [r for r in rooms if not any(p.startswith(f"symnet_core/{r}/") for p in paths)]
    assert not absent, f"rooms of symnet_core missing from README's tour: {absent}"
