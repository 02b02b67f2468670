"""Project store: real files, real PNG round trips, simulated crashes, full disks and locks."""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from symnet_core.project import (
    ImageStatus,
    Project,
    ProjectError,
    ProjectExistsError,
    ProjectFormatError,
    ProjectLockedError,
    ProjectNotFoundError,
    ProjectVersionError,
    ProjectWriteError,
    mask_file_name,
)

NAMES = ["img1.jpg", "img2.png", "img10.jpg", "sub/deeper/a b.png", "sub/img1.jpg", "ünï cödé.png"]


def _write_images(root: Path, names: list[str] = NAMES, size: tuple[int, int] = (32, 24)) -> None:
    for i, name in enumerate(names):
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (i * 30 % 256, 100, 50)).save(p)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "images"
    _write_images(r)
    return r


@pytest.fixture
def project(root: Path):
    p = Project.create(root, classes=["cat", ("dog", "#00FF00")])
    yield p
    p.close(save=False)


def _mask(value: int = 1, shape: tuple[int, int] = (24, 32)) -> np.ndarray:
    m = np.zeros(shape, dtype=np.uint8)
    m[2:10, 3:12] = value
    return m


def _run_py(code: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, timeout=60, **kw
    )


# --- basics ---------------------------------------------------------------------------------


def test_create_lists_images_naturally_and_writes_schema_1(project: Project, root: Path) -> None:
    assert [r.path for r in project.images] == [
        "img1.jpg",
        "img2.png",
        "img10.jpg",
        "sub/deeper/a b.png",
        "sub/img1.jpg",
        "ünï cödé.png",
    ]
    assert all(r.status is ImageStatus.UNLABELLED and r.size is None for r in project.images)
    assert [(c.id, c.name, c.color) for c in project.classes] == [(1, "cat", "#e6194b"), (2, "dog", "#00ff00")]
    data = json.loads((root / ".symnet" / "project.json").read_text("utf-8"))
    assert data["schema_version"] == 1 and data["format"] == "symnet-annotate-project"
    assert data["app_version"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        project.images[0].status = ImageStatus.ACCEPTED  # type: ignore[misc]
    with pytest.raises(ProjectExistsError):
        Project.create(root)
    with pytest.raises(ProjectNotFoundError):
        Project.open(root / "sub")


def test_mask_round_trip_and_status(project: Project, root: Path) -> None:
    m = _mask(1)
    m[20:, 25:] = 2
    rec = project.set_mask("sub/deeper/a b.png", m)
    assert rec.status is ImageStatus.EDITED and rec.classes_present == (1, 2) and rec.size == (32, 24)
    back = project.get_mask("sub/deeper/a b.png")
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, m)
    with Image.open(project.masks_dir / rec.mask) as im:  # a palette PNG any viewer can show
        assert im.mode == "P" and np.array_equal(np.asarray(im), m)
    assert project.get_mask("img1.jpg") is None
    project.set_support("sub/deeper/a b.png")
    assert project.image("sub/deeper/a b.png").is_support
    assert [r.path for r in project.supports(2)] == ["sub/deeper/a b.png"]
    project.set_mask("sub/deeper/a b.png", m)  # editing a support keeps it a support
    assert project.image("sub/deeper/a b.png").status is ImageStatus.SUPPORT
    project.set_support("sub/deeper/a b.png", False)
    assert project.image("sub/deeper/a b.png").status is ImageStatus.EDITED
    project.close()
    with Project.open(root) as again:
        np.testing.assert_array_equal(again.get_mask("sub/deeper/a b.png"), m)


def test_status_rules(project: Project) -> None:
    with pytest.raises(ValueError, match="no painted pixels"):
        project.set_support("img1.jpg")
    project.set_mask("img1.jpg", np.zeros((24, 32), np.uint8))
    with pytest.raises(ValueError, match="no painted pixels"):
        project.set_support("img1.jpg")
    with pytest.raises(ValueError, match="clear_mask"):
        project.set_status("img1.jpg", "unlabelled")
    with pytest.raises(ValueError, match="no mask"):
        project.set_status("img2.png", "rejected")
    assert project.set_status("img2.png", "accepted").status is ImageStatus.ACCEPTED  # verified empty
    assert project.clear_mask("img1.jpg").status is ImageStatus.UNLABELLED
    assert project.get_mask("img1.jpg") is None
    project.set_confidence("img10.jpg", 0.25)
    assert project.image("img10.jpg").confidence == 0.25
    with pytest.raises(ValueError):
        project.set_confidence("img10.jpg", float("nan"))


def test_mask_validation(project: Project) -> None:
    with pytest.raises(TypeError, match="integer class ids"):
        project.set_mask("img1.jpg", np.ones((24, 32), bool))
    with pytest.raises(ValueError, match="32x24"):
        project.set_mask("img1.jpg", np.zeros((32, 24), np.uint8))
    with pytest.raises(ValueError, match=r"unknown class id\(s\) \[7\]"):
        project.set_mask("img1.jpg", _mask(7))
    with pytest.raises(KeyError, match="nope.png"):
        project.get_mask("nope.png")
    assert project.image("img1.jpg").status is ImageStatus.UNLABELLED


def test_store_prediction_never_overwrites_human_work(project: Project) -> None:
    project.set_mask("img1.jpg", _mask(1))
    assert not project.store_prediction("img1.jpg", _mask(2), confidence=0.9, model="m", run_id="r")
    np.testing.assert_array_equal(project.get_mask("img1.jpg"), _mask(1))
    assert project.store_prediction("img2.png", _mask(2), confidence=0.9, model="m", run_id="r")
    rec = project.set_status("img2.png", "accepted")
    assert (rec.confidence, rec.model, rec.run_id) == (0.9, "m", "r")
    assert not project.store_prediction("img2.png", _mask(1), confidence=0.1)


def test_classes_ids_are_stable_and_removed_pixels_read_as_background(project: Project, root: Path) -> None:
    m = _mask(1)
    m[15:, 20:] = 2
    project.set_mask("img1.jpg", m)
    project.remove_class(2)
    assert project.add_class("bird").id == 3  # 2 is never reused
    assert set(np.unique(project.get_mask("img1.jpg"))) == {0, 1}
    assert project.rename_class(1, "kitten").name == "kitten"
    assert project.recolor_class(1, "#ABCDEF").color == "#abcdef"
    with pytest.raises(ValueError, match="already exists"):
        project.add_class("KITTEN")
    with pytest.raises(ValueError, match="rrggbb"):
        project.add_class("x", "red")
    project.close()
    with Project.open(root) as again:
        assert [(c.id, c.name) for c in again.classes] == [(1, "kitten"), (3, "bird")]
        assert again.add_class("fish").id == 4


def test_sixteen_bit_masks_when_ids_exceed_255(project: Project, root: Path) -> None:
    assert project.mask_dtype is np.uint8
    project.close()
    pfile = root / ".symnet" / "project.json"
    data = json.loads(pfile.read_text("utf-8"))  # a long-lived project: ids are never reused
    data["classes"].append({"id": 300, "name": "rare", "color": "#123456"})
    pfile.write_text(json.dumps(data), "utf-8")
    with Project.open(root) as p:
        assert p.mask_dtype is np.uint16 and p.add_class("next").id == 301
        m = _mask(1).astype(np.uint16)
        m[20:, :] = 300
        rec = p.set_mask("img2.png", m)
        with Image.open(p.masks_dir / rec.mask) as im:
            assert im.mode.startswith("I")
        back = p.get_mask("img2.png")
        assert back.dtype == np.uint16
        np.testing.assert_array_equal(back, m)


def test_present_ids_counts_in_chunks_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    from symnet_core.project import masks

    monkeypatch.setattr(masks, "_CHUNK", 7)  # values on both sides of chunk boundaries
    m = np.zeros((9, 11), np.uint16)
    m[0, 6], m[0, 7], m[8, 10], m[4, 3] = 3, 300, 65535, 3
    assert masks.present_ids(m) == (3, 300, 65535)
    assert masks.present_ids(m[:, ::2]) == (3, 65535)  # non-contiguous view
    assert masks.present_ids(np.zeros((0, 4), np.uint8)) == ()
    assert masks.present_ids(np.zeros((5, 5), np.uint8)) == ()


def test_mask_file_names_are_safe_and_unique() -> None:
    names = [
        "a/x.jpg",
        "b/x.jpg",
        "x.png",
        "x.jpg",
        "../../etc/passwd",
        "con.jpg",
        " spaced name .tif",
        "ünï/cödé.png",
        "a" * 300 + ".png",
    ]
    files = [mask_file_name(n) for n in names]
    assert len(set(files)) == len(files)
    for f in files:
        assert f.endswith(".png") and len(f) < 80 and "/" not in f and not f.startswith(".")
        assert all(ch.isascii() and (ch.isalnum() or ch in "_-.") for ch in f)
    nfd = unicodedata.normalize("NFD", "ünï/cödé.png")
    assert mask_file_name(nfd) == mask_file_name("ünï/cödé.png")


def test_reconcile_new_and_missing_images(project: Project, root: Path) -> None:
    project.set_mask("img2.png", _mask(1))
    project.close()
    (root / "img2.png").rename(root / "img2.moved")
    _write_images(root, ["new/img0.png"])
    with Project.open(root) as p:
        assert p.image("img2.png").missing
        np.testing.assert_array_equal(p.get_mask("img2.png"), _mask(1))  # never deleted
        assert p.image("new/img0.png").status is ImageStatus.UNLABELLED
        assert [r.path for r in p.images][:3] == ["img1.jpg", "img2.png", "img10.jpg"]
    (root / "img2.moved").rename(root / "img2.png")
    with Project.open(root) as p:
        assert not p.image("img2.png").missing


def test_missing_mask_file_is_reported_not_fatal(project: Project, root: Path) -> None:
    rec = project.set_mask("img1.jpg", _mask(1))
    project.close()
    (root / ".symnet" / "masks" / rec.mask).unlink()
    with Project.open(root) as p:
        assert "missing" in p.image("img1.jpg").error
        assert p.get_mask("img1.jpg") is None


def test_sizes_are_lazy_and_header_only(project: Project) -> None:
    assert project.image("img10.jpg").size is None
    assert project.image_size("img10.jpg") == (32, 24)
    assert project.image("img10.jpg").size == (32, 24)
    assert project.fill_sizes() == len(NAMES) - 1
    assert all(r.size == (32, 24) for r in project.images)


def test_unreadable_image_records_its_error(project: Project, root: Path) -> None:
    (root / "img10.jpg").write_text("not an image")
    with pytest.raises(ValueError, match="img10.jpg"):
        project.read_image("img10.jpg")
    assert "not an image" in project.image("img10.jpg").error


# --- durability -----------------------------------------------------------------------------


def test_journal_recovers_everything_after_a_crash_without_save(root: Path) -> None:
    code = """
        import os, sys, numpy as np
        from symnet_core.project import Project
        p = Project.create(sys.argv[1], classes=["cat"])
        m = np.zeros((24, 32), np.uint8); m[1:5, 1:5] = 1
        p.set_mask("img1.jpg", m); p.set_support("img1.jpg")
        p.set_mask("img2.png", m); p.set_status("img2.png", "accepted")
        p.add_class("dog"); p.update_settings(threshold=0.4)
        assert p.dirty
        os._exit(0)   # no save, no close: like a crash
    """
    r = _run_py(code, str(root))
    assert r.returncode == 0, r.stderr
    assert (root / ".symnet" / "journal.jsonl").stat().st_size > 0
    with Project.open(root) as p:
        assert p.image("img1.jpg").is_support
        assert p.image("img2.png").status is ImageStatus.ACCEPTED
        assert p.get_mask("img2.png")[2, 2] == 1
        assert [c.name for c in p.classes] == ["cat", "dog"] and p.settings["threshold"] == 0.4
        assert not p.dirty
    assert (root / ".symnet" / "journal.jsonl").stat().st_size == 0  # compacted into project.json


def test_torn_journal_line_is_skipped(project: Project, root: Path) -> None:
    project.set_mask("img1.jpg", _mask(1))
    project.close(save=False)
    with open(root / ".symnet" / "journal.jsonl", "ab") as f:
        f.write(b'{"op":"image","record":{"path":"img2.png","sta')
    with Project.open(root) as p:
        assert p.image("img1.jpg").status is ImageStatus.EDITED
        assert p.image("img2.png").status is ImageStatus.UNLABELLED


def test_autosave_policy(project: Project, root: Path) -> None:
    pfile = root / ".symnet" / "project.json"
    project.set_status("img1.jpg", "accepted")
    assert project.dirty and "accepted" not in pfile.read_text("utf-8")
    assert project.save_if_dirty() and not project.dirty and not project.save_if_dirty()
    assert "accepted" in pfile.read_text("utf-8")
    project.autosave_interval_s = 0.0
    project.set_status("img2.png", "accepted")
    assert not project.dirty


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_writing_a_mask(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.set_mask("img1.jpg", _mask(1))
    before = project.image("img1.jpg")
    with monkeypatch.context() as mp:
        mp.setattr(os, "write", _enospc)
        with pytest.raises(ProjectWriteError) as info:
            project.set_mask("img1.jpg", _mask(2))
    err = info.value
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC
    assert before.mask in str(err) and "disk is full" in str(err) and "intact" in str(err)
    assert project.image("img1.jpg") == before
    np.testing.assert_array_equal(project.get_mask("img1.jpg"), _mask(1))
    assert [f.name for f in project.masks_dir.iterdir()] == [before.mask]  # no temp file left


def test_disk_full_while_saving_keeps_old_file_and_dirty(
    project: Project, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pfile = root / ".symnet" / "project.json"
    project.set_status("img2.png", "accepted")  # journaled
    old = pfile.read_bytes()
    with monkeypatch.context() as mp:
        mp.setattr(os, "write", _enospc)
        with pytest.raises(ProjectWriteError, match="project.json"):
            project.save()
        with pytest.raises(ProjectWriteError):
            project.close()
        assert not project.closed
    assert project.dirty and pfile.read_bytes() == old
    assert not [f for f in pfile.parent.iterdir() if f.name.endswith(".tmp")]
    project.close()
    with Project.open(root) as p:
        assert p.image("img2.png").status is ImageStatus.ACCEPTED


def test_journal_failure_keeps_change_in_memory_until_saved(
    project: Project, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    jfd = project._journal._fd

    def failing_journal(fd: int, data: bytes) -> int:
        if fd == jfd:
            real_write(fd, bytes(data)[:7])  # partial line, then the disk fills up
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    with monkeypatch.context() as mp:
        mp.setattr(os, "write", failing_journal)
        with pytest.raises(ProjectWriteError, match="kept in memory"):
            project.set_status("img1.jpg", "accepted")
    assert project.image("img1.jpg").status is ImageStatus.ACCEPTED and project.dirty
    assert (root / ".symnet" / "journal.jsonl").read_bytes() == b""  # partial line cut back
    project.close()
    with Project.open(root) as p:
        assert p.image("img1.jpg").status is ImageStatus.ACCEPTED


def test_permission_denied_is_a_clear_error(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open
    masks = str(project.masks_dir)

    def deny(path, *a, **k):
        if str(path).startswith(masks):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *a, **k)

    with monkeypatch.context() as mp:
        mp.setattr(os, "open", deny)
        with pytest.raises(ProjectWriteError, match="Permission denied.*writable"):
            project.set_mask("img1.jpg", _mask(1))
    assert project.image("img1.jpg").mask is None


def test_stale_temp_files_are_removed_on_open(project: Project, root: Path) -> None:
    project.close()
    junk = root / ".symnet" / "masks" / ".x.png.abcd1234.tmp"
    junk.write_bytes(b"partial")
    with Project.open(root):
        assert not junk.exists()


# --- locking --------------------------------------------------------------------------------


def test_lock_refuses_a_second_writer_and_allows_read_only(project: Project, root: Path) -> None:
    with pytest.raises(ProjectLockedError, match="this process"):
        Project.open(root)
    code = """
        import sys
        from symnet_core.project import Project, ProjectLockedError
        try:
            Project.open(sys.argv[1])
        except ProjectLockedError as e:
            print("LOCKED", e.holder.get("pid"), e)
    """
    r = _run_py(code, str(root))
    assert f"LOCKED {os.getpid()}" in r.stdout and f"pid {os.getpid()}" in r.stdout, r.stderr
    ro = Project.open(root, read_only=True)
    assert len(ro) == len(NAMES) and ro.image_size("img1.jpg") == (32, 24)  # remembered in memory only
    with pytest.raises(ProjectError, match="read-only"):
        ro.set_status("img1.jpg", "accepted")


def test_lock_of_a_killed_process_is_taken_over(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    Project.create(root).close()
    code = """
        import sys, time
        from symnet_core.project import Project
        p = Project.open(sys.argv[1]); print("OPEN", flush=True); time.sleep(60)
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "OPEN"
        with pytest.raises(ProjectLockedError, match=f"pid {proc.pid}"):
            Project.open(root)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with caplog.at_level(logging.WARNING), Project.open(root):
        pass
    assert "stale lock" in caplog.text and f"pid {proc.pid}" in caplog.text


# --- schema versions ------------------------------------------------------------------------


def test_newer_schema_is_refused_untouched(project: Project, root: Path) -> None:
    project.close()
    pfile = root / ".symnet" / "project.json"
    data = json.loads(pfile.read_text("utf-8"))
    data.update(schema_version=2, app_version="9.0")
    pfile.write_text(json.dumps(data))
    before = pfile.read_bytes()
    with pytest.raises(ProjectVersionError, match=r"9\.0.*schema 2.*Update symnet-annotate"):
        Project.open(root)
    assert pfile.read_bytes() == before


def test_corrupt_project_file_is_refused_untouched(project: Project, root: Path) -> None:
    project.close()
    pfile = root / ".symnet" / "project.json"
    pfile.write_text('{"format": "symnet-annotate-project", "schema_ver')
    with pytest.raises(ProjectFormatError, match="damaged and was not modified"):
        Project.open(root)
    assert pfile.read_text().endswith("schema_ver")


def test_migration_from_schema_0(root: Path) -> None:
    pdir = root / ".symnet"
    (pdir / "masks").mkdir(parents=True)
    v0_mask = np.zeros((24, 32), np.uint8)
    v0_mask[5:9, 5:9] = 2
    Image.fromarray(v0_mask).save(pdir / "masks" / "sub__img1.png")
    v0 = {
        "version": 0,
        "labels": ["cat", "dog"],
        "images": {
            "sub/img1.jpg": {"state": "support", "mask": "masks/sub__img1.png", "size": [32, 24]},
            "img1.jpg": {"state": "auto", "score": 0.7, "mask": "masks/gone.png"},
            "img2.png": {"state": "done"},
            "img10.jpg": {"state": "todo"},
        },
    }
    (pdir / "project.json").write_text(json.dumps(v0))
    with Project.open(root) as p:
        assert [(c.id, c.name) for c in p.classes] == [(1, "cat"), (2, "dog")]
        rec = p.image("sub/img1.jpg")
        assert rec.is_support and rec.size == (32, 24)
        np.testing.assert_array_equal(p.get_mask("sub/img1.jpg"), v0_mask)
        assert p.image("img1.jpg").status is ImageStatus.PREDICTED and p.image("img1.jpg").confidence == 0.7
        assert "missing" in p.image("img1.jpg").error  # its v0 mask file never existed
        assert p.image("img2.png").status is ImageStatus.UNLABELLED  # "done" without a mask
        assert p.image("sub/deeper/a b.png").status is ImageStatus.UNLABELLED  # reconciled
        assert p.add_class("bird").id == 3
    assert json.loads((pdir / "project.json").read_text("utf-8"))["schema_version"] == 1
    assert json.loads((pdir / "project.v0.json.bak").read_text("utf-8")) == v0


# --- threads --------------------------------------------------------------------------------


def test_reader_thread_and_writer_thread(project: Project) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                assert len(project.images) == len(NAMES)
                for r in project.images:
                    project.image(r.path)
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=reader)
    t.start()
    try:
        for _ in range(3):
            for name in NAMES:
                assert project.store_prediction(name, _mask(1), confidence=0.5)
    finally:
        stop.set()
        t.join()
    assert not errors
    assert all(r.status is ImageStatus.PREDICTED for r in project.images)


def test_close_is_idempotent_and_blocks_writes(project: Project) -> None:
    project.close()
    project.close()
    with pytest.raises(ProjectError, match="closed"):
        project.set_status("img1.jpg", "accepted")
