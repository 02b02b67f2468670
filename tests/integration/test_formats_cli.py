"""``symnet-annotate export/import --format yolo|voc|labelme|cvat`` between two real projects: every mask comes
back under the right class (mapped by name), as annotations and as supports; bad input is one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from symnet_core.cli.annotate import main
from symnet_core.project import ImageStatus, Project
from tests.interop.edge_cases import CLASSES, edge_masks, write_images


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("src")
    write_images(root)
    with Project.create(root, classes=list(CLASSES)) as project:
        for name, mask in edge_masks().items():
            if mask is not None:
                project.set_mask(name, mask, status="accepted")
    return root


@pytest.mark.parametrize("fmt", ["yolo", "voc", "labelme", "cvat"])
def test_export_then_import_into_a_fresh_project(fmt, source, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["export", "--project", str(source), "--format", fmt, "--out", str(out), "--only-accepted"]) == 0
    printed = capsys.readouterr().out
    assert "7 images (1 without objects)" in printed and "7/7 images identical" in printed
    dst = tmp_path / "dst"
    shutil.copytree(source, dst, ignore=shutil.ignore_patterns(".symnet"))
    with Project.create(dst, classes=["other", "dog"]) as project:  # existing names are reused, by name
        pass
    assert main(["import", "--project", str(dst), "--format", fmt, "--from", str(out), "--as-supports"]) == 0
    with Project.open(dst, read_only=True) as project:
        names = {c.id: c.name for c in project.classes}
        assert [names[i] for i in sorted(names)] == ["other", "dog", "cat", "spécial class"]
        for name, expected in edge_masks().items():
            got = project.get_mask(name)
            if expected is None:
                assert got is None
                continue
            lut = np.zeros(max(names) + 1, np.uint8)
            for cid, cname in names.items():
                lut[cid] = CLASSES.index(cname) + 1 if cname in CLASSES else 0
            assert np.array_equal(lut[got], expected), (fmt, name)
            status = project.image(name).status
            assert status is (ImageStatus.SUPPORT if expected.any() else ImageStatus.ACCEPTED), (name, status)


def test_yolo_split_and_bad_input_from_the_cli(source, tmp_path, capsys):
    out = tmp_path / "y"
    argv = ["export", "--project", str(source), "--format", "yolo", "--out", str(out), "--val-fraction", "0.3"]
    assert main(argv) == 0
    assert (out / "data.yaml").read_text("utf-8").count("images/") == 2
    (out / "labels" / "train").mkdir(parents=True, exist_ok=True)
    bad = next((out / "labels").rglob("*.txt"))
    bad.write_text("0 0.1 0.2 inf 0.3 0.5 0.5\n")
    capsys.readouterr()
    assert main(["import", "--project", str(source), "--format", "yolo", "--from", str(out)]) == 2
    err = capsys.readouterr().err
    assert bad.name in err and "finite" in err and "Traceback" not in err
    assert main(["import", "--project", str(source), "--format", "cvat", "--from", str(tmp_path / "none")]) == 2
