"""One atomic-write helper for every writer, the filelock-based project lock, per-user folders (issue #14)."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

from symnet_core.io.common import atomic_write_bytes as io_atomic_write_bytes
from symnet_core.project import ProjectLockedError, ProjectWriteError
from symnet_core.project.atomic import atomic_write_bytes, atomic_write_stream
from symnet_core.project.lock import HOLDER_FILE_NAME, LOCK_FILE_NAME, ProjectLock
from symnet_gui.platform import paths

REPO = Path(__file__).resolve().parents[2]


def test_stream_writer_failure_keeps_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "state.bin"
    atomic_write_stream(target, lambda f: f.write(b"old"))

    def broken(f) -> None:
        f.write(b"half")
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError, match="writer died"):
        atomic_write_stream(target, broken)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.bin"]


def test_io_helper_creates_folders_and_raises_project_write_error(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.json"
    io_atomic_write_bytes(target, b"{}")
    assert target.read_bytes() == b"{}"
    in_the_way = tmp_path / "a" / "b" / "folder.json"
    (in_the_way / "keep").mkdir(parents=True)  # renaming a file over a non-empty folder fails
    with pytest.raises(ProjectWriteError, match="folder.json") as info:
        io_atomic_write_bytes(in_the_way, b"new")
    assert isinstance(info.value, OSError)
    assert sorted(p.name for p in target.parent.iterdir()) == ["folder.json", "out.json"]  # no temp left


def test_only_the_atomic_module_renames_files_into_place() -> None:
    """Every writer goes through symnet_core/project/atomic.py: no other os.replace / mkstemp / rename."""
    offenders = []
    for pkg in ("symnet_core", "symnet_gui"):
        for path in (REPO / pkg).rglob("*.py"):
            if path == REPO / "symnet_core" / "project" / "atomic.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr in {"replace", "rename", "mkstemp",
                                                                      "NamedTemporaryFile"}:
                    base = node.value
                    if isinstance(base, ast.Name) and base.id in {"os", "tempfile"}:
                        offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {base.id}.{node.attr}")
    assert not offenders, offenders


def test_lock_refuses_a_second_holder_in_the_same_process_and_names_it(tmp_path: Path) -> None:
    first = ProjectLock(tmp_path)
    first.acquire()
    try:
        holder = json.loads((tmp_path / HOLDER_FILE_NAME).read_text(encoding="utf-8"))
        assert holder["pid"] == os.getpid() and {"host", "user", "started"} <= holder.keys()
        with pytest.raises(ProjectLockedError, match="this process") as info:
            ProjectLock(tmp_path).acquire()
        assert info.value.holder["pid"] == os.getpid()
    finally:
        first.release()
    assert (tmp_path / LOCK_FILE_NAME).exists() and not (tmp_path / HOLDER_FILE_NAME).exists()
    with ProjectLock(tmp_path) as again:  # free again after release
        assert again.held
    first.release()  # idempotent


def test_lock_file_that_cannot_be_created_is_a_write_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / ".symnet"
    not_a_folder.write_text("a file where the project folder should be")
    with pytest.raises(ProjectWriteError, match="lock"):
        ProjectLock(not_a_folder).acquire()


def test_user_folders_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (paths.HOME_ENV, *paths.DIR_ENVS.values()):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    if os.sys.platform.startswith("linux"):  # platformdirs follows XDG
        assert paths.config_dir() == tmp_path / "xdg-config" / "symnet-annotate"
        assert paths.data_dir() == tmp_path / "xdg-data" / "symnet-annotate"
        assert paths.cache_dir() == tmp_path / "xdg-cache" / "symnet-annotate"
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "home"))
    assert (paths.config_dir(), paths.data_dir(), paths.cache_dir()) == (
        tmp_path / "home" / "config", tmp_path / "home" / "data", tmp_path / "home" / "cache")
    assert paths.log_file() == tmp_path / "home" / "data" / "logs" / "symnet-annotate.log"
    monkeypatch.setenv(paths.DIR_ENVS["cache"], str(tmp_path / "fast-disk"))
    assert paths.cache_dir() == tmp_path / "fast-disk" and paths.config_dir() == tmp_path / "home" / "config"
    atomic_write_bytes(tmp_path / "probe", b"x")  # the helper itself needs no folder creation here


def test_atomic_move_places_a_finished_file_or_names_the_target(tmp_path: Path) -> None:
    from symnet_core.project.atomic import atomic_move

    src = tmp_path / ".download.part"
    src.write_bytes(b"weights")
    atomic_move(src, tmp_path / "model.pth")
    assert (tmp_path / "model.pth").read_bytes() == b"weights" and not src.exists()
    src.write_bytes(b"more")
    (tmp_path / "busy" / "keep").mkdir(parents=True)
    with pytest.raises(ProjectWriteError, match="busy"):
        atomic_move(src, tmp_path / "busy")
    assert src.read_bytes() == b"more"  # left for the caller to remove
