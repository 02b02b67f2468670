"""Packaging (issue #14): single-sourced version, --version, the one-line messages when the window
cannot open (no 'gui' extra, Qt's xcb plugin missing a system library), metadata, README links."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib

import symnet_core
from symnet_gui.platform import system_check

REPO = Path(__file__).resolve().parents[2]


def _run(code: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SYMNET_ANNOTATE_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=tmp_path, check=False)


def test_version_is_single_sourced_and_printed(tmp_path: Path) -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in meta["project"] and "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "symnet_core.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", symnet_core.__version__)
    proc = _run("import sys; from symnet_gui.__main__ import main; sys.exit(main(sys.argv[1:]))", tmp_path,
                "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"symnet-annotate {symnet_core.__version__}"
    assert "PySide6" not in proc.stderr


_BLOCK_PYSIDE = """
    import sys

    class NoPySide6:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "PySide6":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoPySide6())
    from symnet_gui.__main__ import main
    try:
        code = main(sys.argv[1:])
    finally:
        print("LOADED", sorted(m for m in sys.modules if m.startswith("PySide6")))
    sys.exit(code)
"""


def test_window_without_the_gui_extra_prints_one_line_naming_it(tmp_path: Path) -> None:
    proc = _run(_BLOCK_PYSIDE, tmp_path, "--demo")
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "symnet-annotate[gui]"' in lines[0], proc.stderr
    assert "LOADED []" in proc.stdout
    assert not (tmp_path / "home").exists()  # nothing written before the check


def test_headless_commands_still_work_without_pyside6(tmp_path: Path) -> None:
    proc = _run(_BLOCK_PYSIDE, tmp_path, "validate", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout and "LOADED []" in proc.stdout


def test_uses_xcb_follows_qt_platform_choice() -> None:
    on_linux = sys.platform.startswith("linux")
    assert system_check.uses_xcb({}) is on_linux
    assert system_check.uses_xcb({"QT_QPA_PLATFORM": "xcb"}) is on_linux
    assert system_check.uses_xcb({"QT_QPA_PLATFORM": "offscreen"}) is False
    assert system_check.uses_xcb({"QT_QPA_PLATFORM": "wayland;xcb"}) is False
    assert system_check.uses_xcb({"WAYLAND_DISPLAY": "wayland-0"}) is False


@pytest.mark.skipif(shutil.which("gcc") is None or not sys.platform.startswith("linux"), reason="needs gcc on Linux")
def test_plugin_with_a_missing_system_library_is_reported(tmp_path: Path) -> None:
    """A real shared library whose dependency is gone: what a missing libxcb-icccm4 looks like to dlopen."""
    (tmp_path / "dep.c").write_text("int dep_value(void) { return 7; }\n")
    (tmp_path / "plugin.c").write_text("int dep_value(void);\nint plugin_value(void) { return dep_value(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", "libsymnetdep.so", "dep.c"], cwd=tmp_path, check=True)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", "libplugin.so", "plugin.c", "-L.", "-lsymnetdep"],
                   cwd=tmp_path, check=True)
    (tmp_path / "libsymnetdep.so").unlink()
    error = system_check.plugin_load_error(tmp_path / "libplugin.so")
    assert "libsymnetdep.so" in error and "cannot open shared object file" in error


def test_real_xcb_plugin_check_names_a_library_or_passes() -> None:
    plugin = system_check.xcb_plugin_path()
    assert plugin is not None and plugin.name == "libqxcb.so"
    error = system_check.plugin_load_error(plugin)
    assert error == "" or re.search(r"lib[\w.+-]+\.so[.\d]*: cannot open shared object file", error), error


def test_apt_command_lists_the_xcb_libraries_qt_needs() -> None:
    assert system_check.APT_COMMAND.startswith("sudo apt-get install -y ")
    for pkg in ("libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0", "libxkbcommon-x11-0", "libegl1", "libgl1"):
        assert pkg in system_check.APT_PACKAGES
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert system_check.APT_COMMAND in readme  # the README gives the same command


def test_metadata_licence_and_build_requirements() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    project = meta["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert meta["build-system"]["requires"] == ["setuptools>=77"]  # no stray 'wheel'
    assert project["authors"] and project["classifiers"] and project["urls"]
    for dep in ("platformdirs", "tqdm", "filelock"):
        assert any(d.startswith(dep) for d in project["dependencies"])


def test_readme_links_resolve_to_files_the_sdist_ships() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    manifest = (REPO / "MANIFEST.in").read_text(encoding="utf-8")
    assert "graft docs" in manifest
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", readme) if "://" not in t]
    assert targets
    for target in targets:
        assert (REPO / target).is_file(), f"README links to missing {target}"
        assert target.startswith(("docs/", "symnet_core/")), f"README links to {target}, which the sdist lacks"
