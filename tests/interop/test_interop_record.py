"""The independent-reader figures quoted in docs/export-formats.md are the committed run in docs/interop/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "export-formats.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("fmt", "row_start"), [
    ("yolo", "| YOLO | ultralytics"),
    ("cvat", "| CVAT, VOC, COCO | Datumaro"),
    ("voc", "| CVAT, VOC, COCO | Datumaro"),
    ("coco", "| CVAT, VOC, COCO | Datumaro"),
    ("labelme", "| labelme | labelme"),
])
def test_quoted_reader_results_match_the_committed_run(fmt, row_start):
    result = json.loads((ROOT / "docs" / "interop" / f"{fmt}.json").read_text(encoding="utf-8"))
    row = next(line for line in DOC.splitlines() if line.startswith(row_start))
    assert f"min IoU {result['min_iou']:.1f} over {len(result['images'])} images" in row
    assert result["min_iou"] == 1.0
    if fmt == "labelme":
        assert result["reader_errors"] == {"deep16.json": "LabelFileReadError (UnidentifiedImageError)"}
    else:
        assert result["missing"] == [] and result["reader_errors"] == {}
