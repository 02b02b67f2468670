"""Issue #20: a project folder received from someone else is safe to open, run and export.

Every case is built on generated files: a real project is created, then its ``project.json``,
journal or folders are edited the way an attacker (or a damaged disk) would.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from symnet_core.project import Project, ProjectFormatError
from symnet_core.project.paths import UnsafePathError, check_image_key, check_mask_name


def _make(root: Path, n: int = 2) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (8, 6), (i * 40, 0, 0)).save(root / f"im{i}.png")
    with Project.create(root, classes=["a"]) as p:
        p.set_mask("im0.png", np.ones((6, 8), np.uint8), status="accepted")


def _edit_json(root: Path, fn) -> None:
    pfile = root / ".symnet" / "project.json"
    data = json.loads(pfile.read_text())
    fn(data)
    pfile.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "name",
    ["../../victim.png", "/tmp/victim.png", "sub/x.png", "x\x00.png", "C:victim.png", "..\\victim.png", ".hidden.png",
     "..", ""],
)
def test_unsafe_mask_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafePathError):
        check_mask_name(name, "project.json")


@pytest.mark.parametrize("key", ["../x.jpg", "a/../../x.jpg", "/etc/passwd", "C:/x.jpg", "\\\\host\\share\\x.jpg",
                                 "a\x00b.jpg", "a//b.jpg", "./a.jpg", "a\\..\\..\\x.jpg"])
def test_unsafe_image_keys_are_refused(key: str) -> None:
    with pytest.raises(UnsafePathError):
        check_image_key(key, "project.json")


def test_safe_names_pass() -> None:
    assert check_image_key("sub dir/ü 1.jpg") == "sub dir/ü 1.jpg"
    assert check_mask_name("im0-0123456789abcdef.png") == "im0-0123456789abcdef.png"


@pytest.mark.parametrize("mask", ["../../victim.png", os.path.abspath("/tmp/hostile-victim.png")])
def test_project_json_mask_outside_is_refused_with_one_clear_error(tmp_path: Path, mask: str) -> None:
    root = tmp_path / "p"
    _make(root)
    _edit_json(root, lambda d: d["images"][0].update(mask=mask))
    for read_only in (False, True):
        with pytest.raises(ProjectFormatError) as err:
            Project.open(root, read_only=read_only)
        assert "project.json" in str(err.value) and "mask" in str(err.value)


def test_journal_line_with_unsafe_mask_is_skipped_not_used(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _make(root)
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"precious")
    rec = {"path": "im1.png", "status": "predicted", "mask": "../../victim.png", "classes_present": [1]}
    with open(root / ".symnet" / "journal.jsonl", "a") as f:
        f.write(json.dumps({"op": "image", "record": rec}) + "\n")
    with Project.open(root) as p:
        assert p.image("im1.png").mask is None  # the bad entry was skipped
        p.set_mask("im1.png", np.ones((6, 8), np.uint8))
    assert victim.read_bytes() == b"precious"


def test_symlinked_mask_escaping_is_neither_read_nor_written(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _make(root)
    secret = tmp_path / "secret.png"
    Image.new("L", (8, 6), 1).save(secret)
    before = secret.read_bytes()
    with Project.open(root) as p:
        name = p.image("im0.png").mask
    link = root / ".symnet" / "masks" / name
    link.unlink()
    link.symlink_to(secret)
    with Project.open(root) as p:
        with pytest.raises(UnsafePathError, match="outside"):
            p.get_mask("im0.png")
        with pytest.raises(UnsafePathError):
            p.set_mask("im0.png", np.zeros((6, 8), np.uint8))
    assert secret.read_bytes() == before


def test_symlinked_project_folders_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _make(root)
    elsewhere = tmp_path / "elsewhere"
    (root / ".symnet" / "masks").rename(elsewhere)
    (root / ".symnet" / "masks").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        Project.open(root)
    assert sorted(os.listdir(elsewhere)) == sorted(os.listdir(root / ".symnet" / "masks"))


def test_journal_symlink_is_never_appended_to(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _make(root)
    target = tmp_path / "bashrc"
    target.write_text("export X=1\n")
    j = root / ".symnet" / "journal.jsonl"
    j.unlink(missing_ok=True)
    j.symlink_to(target)
    with pytest.raises(OSError), Project.open(root) as p:
        p.set_status("im1.png", "accepted")
    assert target.read_text() == "export X=1\n"


def test_image_symlinked_out_of_the_folder_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _make(root)
    outside = tmp_path / "private.png"
    Image.new("RGB", (4, 4)).save(outside)
    (root / "leak.png").symlink_to(outside)
    with Project.open(root) as p:
        with pytest.raises(ValueError, match="outside"):
            p.read_image("leak.png")
        assert "outside" in (p.image("leak.png").error or "")


def test_nan_and_inf_in_project_files_do_not_break_later_saves(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _make(root)
    pfile = root / ".symnet" / "project.json"
    text = pfile.read_text().replace('"status": "accepted"', '"status": "accepted", "confidence": NaN', 1)
    text = text.replace('"settings": {}', '"settings": {"gain": Infinity, "big": 1e400}', 1)
    pfile.write_text(text)
    with open(root / ".symnet" / "journal.jsonl", "a") as f:
        f.write('{"op":"image","record":{"path":"im1.png","status":"unlabelled","confidence":-Infinity}}\n')
    with Project.open(root) as p:
        assert p.image("im0.png").confidence is None
        assert p.image("im1.png").confidence is None
        assert p.settings == {"gain": None, "big": None}
        p.set_status("im1.png", "accepted")
        p.save()
    json.loads(pfile.read_text())  # strict JSON again


@pytest.mark.parametrize("value", [10**30, 2**63, 65537, 0, -5, True, "7"])
def test_absurd_next_class_id_is_one_clear_error(tmp_path: Path, value: object) -> None:
    root = tmp_path / "p"
    _make(root)
    _edit_json(root, lambda d: d.update(next_class_id=value))
    with pytest.raises(ProjectFormatError, match="next_class_id") as err:
        Project.open(root)
    assert "project.json" in str(err.value)


def test_absurd_class_id_is_one_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _make(root)
    _edit_json(root, lambda d: d["classes"].append({"id": 10**12, "name": "x", "color": "#000000"}))
    with pytest.raises(ProjectFormatError, match="class"):
        Project.open(root)


def test_absurd_image_size_is_forgotten_not_allocated(tmp_path: Path) -> None:
    """An accepted image without a mask exports as zeros of its recorded size: a forged
    500000 x 500000 must not become a 250 GB allocation."""
    root = tmp_path / "p"
    _make(root)

    def forge(d):
        d["images"][1].update(width=500_000, height=500_000, status="accepted")

    _edit_json(root, forge)
    with Project.open(root, read_only=True) as p:
        assert p.image("im1.png").size is None
        assert p.image_size("im1.png") == (8, 6)


def test_no_class_id_left_is_a_value_error(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _make(root)
    _edit_json(root, lambda d: d.update(next_class_id=65536))
    with Project.open(root) as p, pytest.raises(ValueError, match="no class id left"):
        p.add_class("b")


def test_add_class_with_a_free_id_and_refused_ids(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _make(root)
    with Project.open(root) as p:
        assert p.add_class("b", class_id=7).id == 7
        assert p.add_class("c").id == 8
        with pytest.raises(ValueError, match="taken or was used"):
            p.add_class("d", class_id=3)
