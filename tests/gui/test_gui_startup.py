"""Start-up contracts, checked in fresh interpreters: the window appears without torch, and
headless subcommands never import Qt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from symnet_gui.__main__ import HEADLESS_COMMANDS, parse_args
from symnet_gui.__main__ import main as gui_main
from tests.conftest import REPO_ROOT


def test_window_opens_without_importing_torch(python_subprocess, folder, tmp_path):
    code = textwrap.dedent(f"""
        import json, os, sys, time
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        os.environ["SYMNET_ANNOTATE_HOME"] = {str(tmp_path / "home")!r}
        t0 = time.monotonic()
        from symnet_gui.app import create_app
        from symnet_gui.main_window import MainWindow
        from symnet_gui.platform.settings import AppSettings
        app = create_app()
        w = MainWindow(AppSettings.load())
        w.show()
        app.processEvents()
        shown = time.monotonic() - t0
        w.open_folder({str(folder)!r})
        deadline = time.monotonic() + 10
        while w.document.current_mask is None and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        torch_loaded = "torch" in sys.modules
        predictor_loaded = "symnet_core.inference.predictor" in sys.modules
        opened = w.document.current_key
        w.close()
        print(json.dumps({{"shown_s": shown, "torch": torch_loaded, "predictor": predictor_loaded,
                           "opened": opened, "thread_running": w.service.is_running}}))
    """)
    proc = python_subprocess(code, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["torch"] is False, "the GUI thread imported torch"
    assert result["predictor"] is False
    assert result["opened"] == "img_00.png"
    assert result["thread_running"] is False
    assert result["shown_s"] < 10, result  # ~0.6 s on the 2-core build machine


def test_report_shown_hook_writes_when_the_window_and_first_image_appear(folder, tmp_path):
    """``SYMNET_REPORT_SHOWN=FILE`` (used by bench/bench_gui.py): wall-clock times of the first
    expose and of the first image on the canvas, from the real entry point; SIGTERM closes cleanly."""
    report = tmp_path / "shown.json"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "SYMNET_ANNOTATE_HOME": str(tmp_path / "home"),
        "SYMNET_REPORT_SHOWN": str(report),
    }
    t0 = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "symnet_gui", str(folder)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    got: dict = {}
    try:
        deadline = time.monotonic() + 60
        while "first_image" not in got and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if report.is_file():
                got = json.loads(report.read_text(encoding="utf-8"))  # replaced atomically: always whole
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=60)
    assert got.get("pid") == proc.pid, stderr
    assert t0 < got["shown"] <= got["first_image"] < time.time()
    if sys.platform != "win32":
        assert proc.returncode == 0, stderr


def test_gui_process_makes_torch_threads_wait_passively(python_subprocess):
    """Spinning OpenMP threads of the inference worker starve the GUI thread on small machines."""
    code = textwrap.dedent("""
        import os
        import symnet_gui.main_window  # imports the services, before any torch
        print(os.environ.get("OMP_WAIT_POLICY"))
    """)
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == "PASSIVE"
    explicit = python_subprocess(code, env={"OMP_WAIT_POLICY": "ACTIVE"})
    assert explicit.stdout.split()[-1] == "ACTIVE", explicit.stderr


def test_headless_subcommands_do_not_import_qt(python_subprocess):
    code = textwrap.dedent("""
        import json, sys
        from symnet_gui.__main__ import main
        try:
            code = main(["validate", "--help"])
        except SystemExit as exc:
            code = exc.code
        qt = [m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6")]
        print(json.dumps({"code": code, "qt": qt}))
    """)
    proc = python_subprocess(code, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["qt"] == []
    assert result["code"] in (0, None)


def test_command_line():
    args = parse_args(["/data/cells", "--checkpoint", "m.pth", "--device", "cpu"])
    assert (args.path, args.checkpoint, args.device, args.demo) == ("/data/cells", "m.pth", "cpu", False)
    assert parse_args(["--demo"]).demo
    from symnet_core.cli.annotate import SUBCOMMANDS  # no torch, no Qt

    assert set(HEADLESS_COMMANDS) == set(SUBCOMMANDS), "the app must hand every headless command to the CLI"


@pytest.mark.parametrize("command", HEADLESS_COMMANDS)
def test_headless_commands_reach_their_own_parser(command, capsys):
    """``symnet-annotate <command> --help`` is answered by that subcommand's parser, not the app's."""
    with pytest.raises(SystemExit) as exit_info:
        gui_main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"symnet-annotate {command}" in out, out[:300]
    assert "--demo" not in out, "the app's own parser answered"
