"""GUI test fixtures: isolated user folders, a dangling-thread check, sample folders, windows.

Every test runs with ``SYMNET_ANNOTATE_HOME`` in a temporary folder (settings, window state,
thumbnail cache, logs never touch the real home). Any ``QThread`` started during a test that is
still running at teardown fails the test, naming where it was started (as napari does).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, QThread, QThreadPool

from symnet_gui.main_window import MainWindow
from symnet_gui.platform.settings import AppSettings
from symnet_gui.services.backend import FactoryBackend
from symnet_gui.services.inference_service import InferenceService
from tests.gui.fakes import FakeConfig, FakePredictor


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("symnet-home")
    monkeypatch.setenv("SYMNET_ANNOTATE_HOME", str(home))
    monkeypatch.setenv("SYMNET_MODELS_DIR", str(home / "models"))  # never the user's real models folder
    return home


@pytest.fixture(autouse=True)
def _dangling_qthreads() -> Iterator[None]:
    """Fail a test that leaves a QThread running or a QThreadPool busy.

    PySide6 crashes when ``QThread.start`` is monkeypatched (napari's approach), so threads are
    found by scanning live objects at teardown; the app's own threads record where they were
    created (``created_at``), which the failure message shows.
    """
    yield
    problems = []
    for obj in gc.get_objects():
        try:
            kind = type(obj)  # not isinstance(): that touches lazy modules' __class__
            if issubclass(kind, QThread) and obj.isRunning():
                where = getattr(obj, "created_at", "(created outside symnet_gui)")
                problems.append(f"QThread {obj.objectName()!r} still running, created at:\n{where}")
            elif issubclass(kind, QThreadPool) and obj.activeThreadCount() > 0:
                problems.append(f"QThreadPool {obj.objectName()!r} still busy")
        except RuntimeError:  # the C++ object is already gone
            continue
    if problems:
        pytest.fail("threads left running:\n" + "\n".join(problems))


def _scene(h: int, w: int, seed: int, box: tuple[int, int, int, int] | None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
    if box is not None:
        y0, x0, y1, x1 = box
        img[y0:y1, x0:x1] = rng.integers(200, 255, (y1 - y0, x1 - x0, 3), dtype=np.uint8)
    return img


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Six 96x128 images with a bright box (one without), natural order img_00..img_05."""
    root = tmp_path / "images"
    root.mkdir()
    for i in range(6):
        box = None if i == 5 else (20 + i * 3, 30, 60 + i * 3, 90)
        Image.fromarray(_scene(96, 128, i, box)).save(root / f"img_{i:02d}.png")
    return root


@pytest.fixture
def fake_config() -> FakeConfig:
    return FakeConfig()


@pytest.fixture
def fake_backend(fake_config: FakeConfig) -> FactoryBackend:
    return FactoryBackend(lambda t, base: FakePredictor(fake_config, t, base))


@pytest.fixture
def make_window(qtbot, tmp_path: Path) -> Iterator[Callable[..., MainWindow]]:
    """Factory: ``make_window(backend=None, folder=None)`` -> a shown window (closed at teardown)."""
    windows: list[MainWindow] = []

    def make(backend: object = None, folder: Path | None = None, model: bool = True) -> MainWindow:
        settings = AppSettings(path=tmp_path / "settings.yaml", autosave_delay_ms=50)
        service = InferenceService(backend) if backend is not None else None
        w = MainWindow(settings, service)
        qtbot.addWidget(w)
        windows.append(w)
        w.resize(1200, 800)
        w.show()
        qtbot.waitExposed(w)
        if folder is not None:
            assert w.open_folder(folder)
            qtbot.waitUntil(lambda: w.document.current_mask is not None, timeout=5000)
        if backend is not None and model:
            with qtbot.waitSignal(w.service.model_loaded, timeout=30000):  # a busy CI machine
                w.load_checkpoint(str(tmp_path / "fake.pth"), "fake")
        return w

    yield make
    for w in windows:
        w.close()
        assert not w.service.is_running


def show_image(qtbot, window: MainWindow, key: str) -> None:
    window.document.select(key)
    qtbot.waitUntil(lambda: window.document.current_key == key and not window.document.loading, timeout=5000)


def to_view(window: MainWindow, x: float, y: float):
    """Viewport point of image pixel (x, y)'s centre."""
    return window.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))
