"""Benchmark: GUI responsiveness of the real app (issue #7).

Three measurements, each in a fresh process (``--section NAME`` runs one in this process):

``launch`` — window visible time
    Time from spawning ``python -m symnet_gui ARGS`` (what the ``symnet-annotate`` entry point,
    ``symnet_gui.__main__:main``, runs) to the window being first exposed on screen, and to the
    first image on the canvas, as the app reports them with ``SYMNET_REPORT_SHOWN=FILE`` (see
    ``symnet_gui/app.py``). Scenarios: ``--demo``; a folder of ``--folder-images`` JPEGs; the same
    folder with ``--checkpoint`` (torch is imported on the worker while the window comes up).
    Each scenario has its own user home (``SYMNET_ANNOTATE_HOME``): one *cold* launch (generates the
    demo folder / creates the project), then ``--launches`` warm ones; medians are over the warm
    ones. The app is closed with SIGTERM (its normal close path) after each launch.

``stall`` — longest GUI event-loop stall during a propagation
    The ``--demo`` flow with a demo folder of 3 painted supports + ``--images`` unlabelled images:
    the window opens it (``MainWindow.start_demo``), loads ``symnet_core/assets/demo/demo_model.pth``, shows
    the first unlabelled image, then ``Model ▸ Propagate`` is triggered (the ``QAction`` behind the
    menu, the toolbar button and Ctrl+R). A ``--beat-ms`` (5 ms) precise ``QTimer`` on the GUI thread
    records its ticks; a *gap* is the time between two ticks (the beat when idle), counted from the
    start until 1 s after ``propagation_finished``: the longest gap is the longest time the GUI could
    not react. A *control* process runs the same beat as a plain sleep loop at the same time: its
    gaps are what the OS scheduler alone costs on the machine then. ``--grid`` shows the thumbnail
    grid (more thumbnails on screen). ``--profile`` (a separate, slower run) adds the GUI thread's
    cProfile and its slowest event deliveries (``QApplication.notify``), also those inside the
    worst gaps.

``brush`` — brush stroke repaint on a 6000×4000 image
    One 6000×4000 JPEG in the real window; a brush stroke of ``--segments`` mouse moves
    (``QMouseEvent`` s sent to the canvas viewport, as QTest / pytest-qt deliver them), one every
    ``--interval-ms`` (a 125 Hz mouse; the event loop runs in between), at fit-to-window zoom and
    then at 1:1. Per segment: the time from sending the move until the viewport's paint event has
    finished (events are processed until then), and the tool's share of it (stamp + overlay
    recolour: the move handler); the brush outline follows the stroke as under a real cursor. Also
    the press (snapshot for undo), the release (the undo step; it repaints nothing) and the longest
    event-loop pass between two moves — the 1:1 stroke starts 0.3 s after the fit stroke ends, so
    the fit stroke's autosave (0.8 s after the edit) runs during it.

Usage::

    xvfb-run -a -s '-screen 0 1600x1000x24' python bench/bench_gui.py --json gui.json
    QT_QPA_PLATFORM=offscreen python bench/bench_gui.py --sections brush stall
    python bench/bench_gui.py --sections stall --profile    # where the GUI thread spends its time

Without a display (no ``DISPLAY`` / ``WAYLAND_DISPLAY``) Qt's ``offscreen`` platform is used.
Prints a summary (and every figure as JSON with ``--json PATH``). No threshold is asserted here;
the targets (issue #7) are printed next to the figures.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import itertools
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("launch", "stall", "brush")
_KEEP: list[Any] = []  # keeps a QApplication subclass instance alive
TARGETS = {"window_shown_s": 2.0, "max_gap_ms": 50.0, "segment_ms": 16.0}


def _pct(values: list[float], q: float) -> float:
    """``q``-quantile (0..1) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _summary_ms(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "median": round(_pct(ms, 0.5), 2),
        "p95": round(_pct(ms, 0.95), 2),
        "p99": round(_pct(ms, 0.99), 2),
        "max": round(max(ms, default=math.nan), 2),
    }


# --- test data -----------------------------------------------------------------------------------------


def make_jpeg_folder(root: Path, n: int, size: tuple[int, int] = (640, 480)) -> Path:
    """``n`` real JPEG scenes (textured background, one bright ellipse) in ``root``."""
    import cv2
    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    w, h = size
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 120, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8), (w, h))
    for i in range(n):
        img = base.copy()
        cx, cy = int(rng.integers(w // 4, 3 * w // 4)), int(rng.integers(h // 4, 3 * h // 4))
        cv2.ellipse(img, (cx, cy), (w // 7, h // 8), float(rng.integers(0, 180)), 0, 360, (40, 180, 230), -1)
        cv2.imwrite(str(root / f"img_{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return root


# --- launch (subprocesses of the real entry point) ---------------------------------------------------------


def _launch_once(app_args: list[str], home: Path, report: Path, timeout_s: float) -> dict[str, Any]:
    report.unlink(missing_ok=True)
    env = {**os.environ, "SYMNET_ANNOTATE_HOME": str(home), "SYMNET_REPORT_SHOWN": str(report)}
    stderr = home / "stderr.txt"
    with stderr.open("wb") as err:
        t0 = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-m", "symnet_gui", *app_args], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err
        )
        got: dict[str, Any] = {}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                got = json.loads(report.read_text(encoding="utf-8"))
            if "first_image" in got:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    out = {
        "shown_s": round(got["shown"] - t0, 3) if "shown" in got else None,
        "first_image_s": round(got["first_image"] - t0, 3) if "first_image" in got else None,
        "exit_code": code,
    }
    if out["shown_s"] is None or code != 0:
        out["stderr_tail"] = stderr.read_text(encoding="utf-8", errors="replace")[-2000:]
    return out


def section_launch(args: argparse.Namespace) -> dict[str, Any]:
    from symnet_core.assets import demo_model_path

    checkpoint = demo_model_path()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="symnet-bench-launch-") as tmp:
        folder = make_jpeg_folder(Path(tmp) / "images", args.folder_images)
        scenarios = {"demo": ["--demo"], "folder": [str(folder)]}
        if checkpoint.is_file():
            scenarios["folder+checkpoint"] = [str(folder), "--checkpoint", str(checkpoint), "--device", "cpu"]
        for name, app_args in scenarios.items():
            home = Path(tmp) / f"home-{name.replace('+', '-')}"
            home.mkdir()
            runs = [
                _launch_once(app_args, home, Path(tmp) / "shown.json", args.launch_timeout)
                for _ in range(1 + args.launches)
            ]
            warm = runs[1:]
            shown = [r["shown_s"] for r in warm if r["shown_s"] is not None]
            first = [r["first_image_s"] for r in warm if r["first_image_s"] is not None]
            results[name] = {
                "args": app_args[:1] if name == "demo" else ["FOLDER", *app_args[1:]],
                "cold": runs[0],
                "warm_shown_s": shown,
                "warm_first_image_s": first,
                "median_shown_s": round(statistics.median(shown), 3) if shown else None,
                "median_first_image_s": round(statistics.median(first), 3) if first else None,
                "failures": [r for r in runs if r["shown_s"] is None or r["exit_code"] != 0],
            }
    return {"folder_images": args.folder_images, "launches": args.launches, "scenarios": results}


# --- in-process helpers --------------------------------------------------------------------------------


def _isolated_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="symnet-bench-home-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["SYMNET_ANNOTATE_HOME"] = str(home)
    return home


def _app(profile_events: bool = False) -> Any:
    from PySide6.QtWidgets import QApplication

    from symnet_gui.app import create_app

    if profile_events:
        gui_thread = threading.get_ident()

        class TimedApplication(QApplication):
            """While ``recording``: GUI-thread event deliveries slower than 5 ms (ms, receiver, event)."""

            recording = False
            slow: ClassVar[list[tuple[float, float, str, str]]] = []

            def notify(self, receiver: Any, event: Any) -> bool:
                if not self.recording or threading.get_ident() != gui_thread:
                    return super().notify(receiver, event)
                kind = event.type()
                t = time.perf_counter()
                try:
                    return super().notify(receiver, event)
                finally:
                    dt = time.perf_counter() - t
                    if dt > 0.005:
                        with contextlib.suppress(RuntimeError):
                            self.slow.append((dt * 1000, t, type(receiver).__name__, kind.name))

        TimedApplication.setApplicationName("symnet-annotate")
        TimedApplication.setOrganizationName("symnet-annotate")
        _KEEP.append(TimedApplication([sys.argv[0]]))
    return create_app([sys.argv[0]])


def _wait_until(app: Any, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.005)


def _pump(app: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def _window(app: Any, home: Path) -> Any:
    from symnet_gui.main_window import MainWindow
    from symnet_gui.platform.settings import AppSettings

    window = MainWindow(AppSettings(path=home / "settings.yaml"))
    window.resize(1440, 900)
    window.show()
    _wait_until(
        app,
        lambda: window.windowHandle() is not None and window.windowHandle().isExposed(),
        20,
        "the window to be exposed",
    )
    return window


def _close(app: Any, window: Any) -> None:
    window.close()
    app.processEvents()


# --- stall (heartbeat during a propagation) -------------------------------------------------------------

#: The same heartbeat in a separate, otherwise idle process: how late the OS alone wakes a thread
#: on this machine at the same time (the noise floor of the stall figures on a busy machine).
CONTROL_BEAT = r"""
import json, os, sys, time
stop, beat = sys.argv[1], float(sys.argv[2]) / 1000
gaps, last = [], time.perf_counter()
while not os.path.exists(stop):
    time.sleep(beat)
    now = time.perf_counter()
    gaps.append(now - last)
    last = now
print(json.dumps(gaps))
"""


def section_stall(args: argparse.Namespace) -> dict[str, Any]:
    import cProfile
    import io
    import pstats

    home = _isolated_home()
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    from symnet_core.training.synthetic import make_demo_folder
    from symnet_gui.platform.paths import data_dir
    from symnet_gui.services.inference_service import ModelState

    t = time.perf_counter()
    manifest = make_demo_folder(data_dir() / "demo", n_images=args.images + 3, n_supports=3)
    gen_s = time.perf_counter() - t
    app = _app(profile_events=args.profile)
    window = _window(app, home)
    doc, service = window.document, window.service
    window.start_demo()  # reuses the generated folder, exactly as `symnet-annotate --demo` does
    _wait_until(
        app,
        lambda: (
            service.model_state in (ModelState.READY, ModelState.ERROR)
            and doc.project is not None
            and len(doc.project.supports()) == 3
            and doc.current_mask is not None
        ),
        300,
        "the demo to load",
    )
    if service.model_state != ModelState.READY:
        raise RuntimeError(f"the demo model did not load: {service.model_state}")
    first_unlabelled = manifest["images"][3]
    doc.select(first_unlabelled)  # the canvas shows an image the run will predict
    _wait_until(app, lambda: doc.current_key == first_unlabelled and not doc.loading, 30, "the image")
    if args.grid:
        window.images.set_grid_mode(True)
    _pump(app, 1.0)  # let the visible thumbnails arrive

    ticks: list[float] = []
    beat = QTimer()
    beat.setTimerType(Qt.TimerType.PreciseTimer)
    beat.setInterval(args.beat_ms)
    beat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    marks: dict[str, float] = {}
    outcomes: list[Any] = []
    progress: list[float] = []
    loop = QEventLoop()

    def finished(outcome: Any) -> None:
        marks["finished"] = time.perf_counter()
        outcomes.append(outcome)
        QTimer.singleShot(1000, loop.quit)

    def failed(_job: int, error: Any) -> None:
        outcomes.append(error)
        loop.quit()

    def start() -> None:
        marks["start"] = time.perf_counter()
        window.commands["model.propagate"].trigger()

    service.propagation_finished.connect(finished)
    service.propagation_failed.connect(failed)
    service.propagation_progress.connect(lambda *_a: progress.append(time.perf_counter()))
    profiler = cProfile.Profile() if args.profile else None
    stop_control = home / "stop-control"
    control = subprocess.Popen(
        [sys.executable, "-c", CONTROL_BEAT, str(stop_control), str(args.beat_ms)], stdout=subprocess.PIPE, text=True
    )
    QTimer.singleShot(500, start)
    guard = QTimer(singleShot=True, interval=int(args.stall_timeout * 1000))
    guard.timeout.connect(loop.quit)
    guard.start()
    beat.start()
    if profiler is not None:
        type(app).recording = True
        profiler.enable()
    loop.exec()
    if profiler is not None:
        profiler.disable()
        type(app).recording = False
    beat.stop()
    stop_control.touch()
    control_gaps = json.loads(control.communicate(timeout=60)[0])
    if not outcomes or "finished" not in marks:
        raise RuntimeError(f"the propagation did not finish: {outcomes}")
    outcome = outcomes[0]
    start, end = marks["start"], marks["finished"]
    pairs = [(a, b - a) for a, b in itertools.pairwise(ticks) if a >= start]
    during = [g for _, g in pairs]
    worst = sorted(pairs, key=lambda pair: pair[1], reverse=True)[:5]
    result: dict[str, Any] = {
        "images": len(outcome.predicted),
        "failed": len(outcome.failed),
        "grid": bool(args.grid),
        "beat_ms": args.beat_ms,
        "demo_generation_s": round(gen_s, 2),
        "propagation_wall_s": round(marks["finished"] - marks["start"], 2),
        "worker_elapsed_s": round(outcome.elapsed_s, 2),
        "first_result_s": round(progress[0] - marks["start"], 2) if progress else None,
        "gap_ms": _summary_ms(during),
        "worst_gaps": [
            {"at_s": round(a - start, 3), "ms": round(g * 1000, 2), "after_finish": a >= end} for a, g in worst
        ],
        "gaps_over_50ms": sum(1 for g in during if g > 0.050),
        "gaps_over_16ms": sum(1 for g in during if g > 0.016),
        "control_gap_ms": _summary_ms(control_gaps),
    }
    if profiler is not None:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(40)
        result["profile"] = buf.getvalue()
        slow = type(app).slow if hasattr(type(app), "slow") else []
        result["slow_events"] = [f"{ms:7.1f} ms  {rcv}  {ev}" for ms, _t, rcv, ev in sorted(slow, reverse=True)[:25]]
        result["events_in_worst_gaps"] = {
            f"{(a - start):.3f}s/{g * 1000:.0f}ms": [
                f"{ms:.1f} ms {rcv} {ev}" for ms, t, rcv, ev in slow if a <= t <= a + g
            ]
            for a, g in worst
        }
    _close(app, window)
    return result


# --- brush (stroke on a 6000x4000 image) --------------------------------------------------------------------


def _stroke_points(width: int, height: int, n: int, step: float) -> list[tuple[float, float]]:
    """``n + 1`` viewport points ``step`` px apart: a wavy left-to-right sweep, back and forth."""
    pts: list[tuple[float, float]] = []
    x, direction, lane = width * 0.2, 1.0, 0
    lanes = [height * f for f in (0.3, 0.5, 0.7)]
    for i in range(n + 1):
        y = lanes[lane % len(lanes)] + height * 0.06 * math.sin(i / 9.0)
        pts.append((x, y))
        x += direction * step
        if not width * 0.2 <= x <= width * 0.8:
            direction, lane = -direction, lane + 1
            x = min(max(x, width * 0.2), width * 0.8)
    return pts


def section_brush(args: argparse.Namespace) -> dict[str, Any]:
    home = _isolated_home()
    import cv2
    import numpy as np
    from PySide6.QtCore import QEvent, QObject, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    w_img, h_img = args.image_size
    folder = home / "big"
    folder.mkdir()
    rng = np.random.default_rng(1)
    small = rng.integers(0, 255, (h_img // 50, w_img // 50, 3), dtype=np.uint8)
    big = cv2.resize(small, (w_img, h_img), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(folder / "big.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    del big

    app = _app()
    window = _window(app, home)
    doc, canvas = window.document, window.canvas
    t = time.perf_counter()
    window.open_folder(folder)
    _wait_until(
        app, lambda: doc.current_mask is not None and doc.current_mask.shape == (h_img, w_img), 120, "the big image"
    )
    open_s = time.perf_counter() - t
    _pump(app, 1.0)  # thumbnail and prefetch work of the opening settles, as before a person starts painting
    saves: list[float] = []
    doc.save_state_changed.connect(lambda state: saves.append(time.perf_counter()) if state == "saved" else None)
    canvas.set_brush_size(args.brush)
    canvas.setAttribute(Qt.WidgetAttribute.WA_UnderMouse, True)  # the brush outline follows, as on screen
    vp = canvas.viewport()

    class PaintCounter(QObject):
        count = 0

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    counter = PaintCounter()
    vp.installEventFilter(counter)

    def send(kind: QEvent.Type, pos: tuple[float, float], button: Qt.MouseButton, buttons: Qt.MouseButton) -> None:
        local = QPointF(*pos)
        ev = QMouseEvent(kind, local, QPointF(vp.mapToGlobal(local)), button, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(vp, ev)

    def until_painted(before: int) -> bool:
        deadline = time.perf_counter() + 2.0
        while counter.count == before:
            if time.perf_counter() > deadline:
                return False
            app.processEvents()
        return True

    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    results: dict[str, Any] = {
        "image": f"{w_img}x{h_img}",
        "brush_px": args.brush,
        "open_s": round(open_s, 2),
        "viewport": f"{vp.width()}x{vp.height()}",
        "step_px": args.step,
        "interval_ms": args.interval_ms,
    }
    for zoom in ("fit", "1:1"):
        canvas.zoom_fit() if zoom == "fit" else canvas.zoom_actual()
        _pump(app, 0.3)  # the 1:1 stroke starts 0.3 s after the fit one: its autosave (0.8 s) falls into it
        pts = _stroke_points(vp.width(), vp.height(), args.segments, args.step)
        before = counter.count
        t_stroke = t0 = time.perf_counter()
        send(QEvent.Type.MouseButtonPress, pts[0], left, left)
        t1 = time.perf_counter()
        until_painted(before)
        press = (t1 - t0, time.perf_counter() - t0)
        tool_s, total_s, missed, between = [], [], 0, [0.0]
        next_t = time.perf_counter()
        for p in pts[1:]:
            next_t += args.interval_ms / 1000
            while time.perf_counter() < next_t:  # the event loop runs between mouse events (timers, autosave)
                tb = time.perf_counter()
                app.processEvents()
                between.append(time.perf_counter() - tb)  # a long one would delay the next mouse event
                time.sleep(0.0005)
            before = counter.count
            t0 = time.perf_counter()
            send(QEvent.Type.MouseMove, p, none, left)
            t1 = time.perf_counter()
            if not until_painted(before):
                missed += 1
            t2 = time.perf_counter()
            tool_s.append(t1 - t0)
            total_s.append(t2 - t0)
        t0 = time.perf_counter()
        send(QEvent.Type.MouseButtonRelease, pts[-1], left, none)
        t1 = time.perf_counter()
        app.processEvents()  # the release changes no pixel: nothing needs repainting, drain what it posted
        release = (t1 - t0, time.perf_counter() - t0)
        stack = doc.stack()
        results[zoom] = {
            "scale": round(canvas.scale_factor, 4),
            "segment_ms": _summary_ms(total_s),
            "tool_ms": _summary_ms(tool_s),
            "longest_block_between_moves_ms": round(max(between) * 1000, 2),
            "segments_without_paint": missed,
            "slowest_segments": [
                {"index": i, "ms": round(total_s[i] * 1000, 2), "tool_ms": round(tool_s[i] * 1000, 2)}
                for i in sorted(range(len(total_s)), key=total_s.__getitem__, reverse=True)[:3]
            ],
            "press_ms": round(press[1] * 1000, 2),
            "release_ms": round(release[1] * 1000, 2),
            "release_handler_ms": round(release[0] * 1000, 2),
            "undo_steps": stack.count() if stack is not None else 0,
            "stroke_s": round(time.perf_counter() - t_stroke, 2),
            "autosaves_during_stroke": sum(1 for t_save in saves if t_save >= t_stroke),
        }
    results["platform"] = QApplication.platformName()
    _close(app, window)
    return results


# --- driver ----------------------------------------------------------------------------------------------


def _run_section(name: str, argv: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--section", name, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}", "stderr_tail": proc.stderr[-3000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _print_summary(res: dict[str, Any]) -> None:
    out = sys.stdout.write
    out(f"platform {res.get('qpa')}, {os.cpu_count()} CPUs, load average {res.get('load_average')}\n")
    launch = res.get("launch")
    if launch and "scenarios" in launch:
        out(
            f"\nWindow visible (target <= {TARGETS['window_shown_s']} s), median of {launch['launches']} warm "
            "launches [cold launch]:\n"
        )
        for name, s in launch["scenarios"].items():
            cold = s["cold"]
            out(
                f"  {name:<18} shown {s['median_shown_s']} s [{cold['shown_s']}]   first image "
                f"{s['median_first_image_s']} s [{cold['first_image_s']}]   failures {len(s['failures'])}\n"
            )
    stall = res.get("stall")
    if stall and "gap_ms" in stall:
        g = stall["gap_ms"]
        out(
            f"\nGUI stalls during a {stall['images']}-image propagation (beat {stall['beat_ms']} ms, target max "
            f"<= {TARGETS['max_gap_ms']:.0f} ms): max {g['max']} ms, p99 {g['p99']}, p95 {g['p95']}, median "
            f"{g['median']} ms; gaps > 50 ms: {stall['gaps_over_50ms']}; wall {stall['propagation_wall_s']} s\n"
            f"  worst gaps (s after the start): {stall['worst_gaps']}\n"
            f"  control (a {stall['beat_ms']} ms sleep loop in a separate idle process, same time): max "
            f"{stall['control_gap_ms']['max']} ms, p99 {stall['control_gap_ms']['p99']}, p95 "
            f"{stall['control_gap_ms']['p95']} ms\n"
        )
        if "profile" in stall:
            out("\nslowest event deliveries on the GUI thread:\n  " + "\n  ".join(stall["slow_events"]) + "\n")
            out(f"GUI-thread events > 5 ms inside the worst gaps: {stall['events_in_worst_gaps']}\n")
            out(stall["profile"])
    brush = res.get("brush")
    if brush and "fit" in brush:
        out(
            f"\nBrush stroke on {brush['image']} (brush {brush['brush_px']} px, viewport {brush['viewport']}, "
            f"target <= {TARGETS['segment_ms']:.0f} ms/segment):\n"
        )
        for zoom in ("fit", "1:1"):
            z = brush[zoom]
            s = z["segment_ms"]
            out(
                f"  {zoom:<4} (scale {z['scale']}): median {s['median']} ms, p95 {s['p95']}, max {s['max']} ms "
                f"over {s['n']} segments (tool share median {z['tool_ms']['median']} ms); press {z['press_ms']} "
                f"ms, release {z['release_ms']} ms; longest block between moves "
                f"{z['longest_block_between_moves_ms']} ms (autosaves during the stroke: "
                f"{z['autosaves_during_stroke']})\n"
            )
    for name in SECTIONS:
        if isinstance(res.get(name), dict) and "error" in res[name]:
            out(f"\n{name}: FAILED {res[name]['error']}\n{res[name]['stderr_tail']}\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--section", choices=SECTIONS, help=argparse.SUPPRESS)  # run one here (child process)
    ap.add_argument("--json", metavar="PATH", help="write all figures to PATH")
    ap.add_argument("--launches", type=int, default=5, help="warm launches per scenario (after one cold)")
    ap.add_argument("--folder-images", type=int, default=1000, help="images in the launch folder")
    ap.add_argument("--launch-timeout", type=float, default=120.0)
    ap.add_argument("--images", type=int, default=50, help="images to propagate")
    ap.add_argument("--beat-ms", type=int, default=5)
    ap.add_argument("--grid", action="store_true", help="thumbnail grid during the propagation")
    ap.add_argument("--profile", action="store_true", help="cProfile + slow events of the GUI thread (stall)")
    ap.add_argument("--stall-timeout", type=float, default=900.0)
    ap.add_argument("--image-size", type=int, nargs=2, default=(6000, 4000), metavar=("W", "H"))
    ap.add_argument("--brush", type=int, default=80, help="brush diameter in image pixels")
    ap.add_argument("--segments", type=int, default=200)
    ap.add_argument("--step", type=float, default=6.0, help="viewport pixels between mouse moves")
    ap.add_argument(
        "--interval-ms", type=float, default=8.0, help="between mouse moves (8 = a 125 Hz mouse; 0 = back to back)"
    )
    args = ap.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.section:
        run = {"launch": section_launch, "stall": section_stall, "brush": section_brush}[args.section]
        sys.stdout.write(json.dumps(run(args)) + "\n")
        return 0
    child = _strip_driver_args(list(argv if argv is not None else sys.argv[1:]))
    res: dict[str, Any] = {
        "qpa": os.environ.get("QT_QPA_PLATFORM") or ("xcb" if os.environ.get("DISPLAY") else "?"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
    }
    for name in args.sections:
        res[name] = _run_section(name, child)
    res["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    _print_summary(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1), encoding="utf-8")
    return 0 if all("error" not in res[n] for n in args.sections) else 1


def _strip_driver_args(argv: list[str]) -> list[str]:
    """The command line without the driver's own options (--sections, --json), for the children."""
    out, skip = [], False
    for a in argv:
        if skip and not a.startswith("--"):
            continue
        skip = a in ("--sections", "--json")
        if not skip and not a.startswith(("--sections=", "--json=")):
            out.append(a)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
