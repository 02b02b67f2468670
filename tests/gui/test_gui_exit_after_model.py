"""SYMNET_EXIT_AFTER_MODEL_LOADED (the wheel smoke test's hook): the window closes itself once the
model has loaded (exit status 0) or failed to load (1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from symnet_gui.app import ExitAfterModel
from symnet_gui.services.backend import FactoryBackend
from symnet_gui.services.types import ServiceError
from tests.gui.fakes import FakeConfig, FakePredictor


@pytest.mark.parametrize("fails", [False, True])
def test_window_closes_after_the_model_outcome(qtbot, make_window, tmp_path: Path, fails: bool,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    error = ServiceError("load", "checkpoint unreadable") if fails else None
    backend = FactoryBackend(lambda t, b: FakePredictor(FakeConfig(), t, b), fail=error)
    window = make_window(backend, model=False)
    hook = ExitAfterModel(window)
    window.load_checkpoint(str(tmp_path / "model.pth"), "model")
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
    assert hook.exit_code == (1 if fails else 0)
    err = capfd.readouterr().err
    assert ("model failed: checkpoint unreadable" if fails else "model loaded: test model") in err
