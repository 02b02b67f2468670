"""Adapt to supports (Model panel) with a tiny REAL Sym-Net on the CPU: the head file is written
and shown, propagation uses it, cancel writes nothing, errors are messages — all through the
window, the service and its worker thread."""

from __future__ import annotations

import time

import pytest

from symnet_gui.services.backend import FactoryBackend
from symnet_gui.services.types import ModelInfo
from tests.gui.test_gui_window import paint_support, propagate

torch = pytest.importorskip("torch")

#: few steps, and never discarded (the core's own tests use the same settings)
FAST = {"steps": 3, "batch_size": 2, "revert_tolerance": 1.0}


@pytest.fixture
def tiny_backend():
    from symnet_core import Predictor
    from tests.model_helpers import tiny_model

    model = tiny_model(seed=3)

    def make(threshold: float, use_base_learner: bool) -> Predictor:
        return Predictor(model, "cpu", threshold=threshold, use_base_learner=use_base_learner, model_id="tiny#1")

    return FactoryBackend(make, ModelInfo("tiny#1", "tiny SymNet (width 8, input 129)", "cpu", can_adapt=True))


def head_file(w, class_id: int = 1):
    return w.document.project.project_dir / "adapted" / f"class-{class_id}.pth"


def adapt(qtbot, w, timeout: int = 60000):
    with qtbot.waitSignal(w.service.adaptation_finished, timeout=timeout) as blocker:
        w.commands["model.adapt"].trigger()
    return blocker.args[0]


def head_text(w) -> str:
    return w.adaptation.head_label.text()


def test_adapting_the_current_class_writes_the_head_and_shows_it(qtbot, make_window, folder, tiny_backend):
    w = make_window(tiny_backend, folder)
    assert "none" in head_text(w) or "checking" in head_text(w)
    paint_support(qtbot, w, "img_00.png")
    paint_support(qtbot, w, "img_01.png")
    w.adaptation.config_overrides = dict(FAST)
    steps: list[tuple[int, int]] = []
    w.service.adaptation_progress.connect(lambda _j, i, n: steps.append((i, n)))
    outcome = adapt(qtbot, w)
    assert not outcome.cancelled and outcome.kept and outcome.steps == 3 and outcome.supports == 2
    assert steps[-3:] == [(1, 3), (2, 3), (3, 3)]
    assert head_file(w).is_file()
    qtbot.waitUntil(lambda: "yes (2 supports)" in head_text(w), timeout=10000)
    note = w.notes.history[-1]
    assert note.level == "info" and "adapted on 2 support(s)" in note.message and "“object”" in note.message
    assert w.adaptation.reset_button.isEnabled() and w.adaptation.adapt_button.isEnabled()
    assert w.propagation.start_button.isEnabled()

    # a new support makes the head stale (still used until adapted again)
    paint_support(qtbot, w, "img_02.png")
    qtbot.waitUntil(lambda: "stale" in head_text(w), timeout=10000)

    # Reset deletes the file (on the worker) and says so
    w.commands["model.reset_head"].trigger()
    qtbot.waitUntil(lambda: "none" in head_text(w), timeout=10000)
    assert not head_file(w).exists()
    assert "removed" in w.notes.history[-1].message
    assert not w.adaptation.reset_button.isEnabled()


def test_propagation_after_adaptation_uses_the_adapted_head(qtbot, make_window, folder, tiny_backend):
    w = make_window(tiny_backend, folder)
    paint_support(qtbot, w, "img_00.png")
    w.adaptation.config_overrides = dict(FAST)
    assert adapt(qtbot, w).kept
    outcome = propagate(qtbot, w)
    assert outcome.adapted_classes == (1,), outcome
    assert len(outcome.predicted) == 5 and not outcome.failed
    assert "adapted head used for 1 class" in outcome.summary
    assert "adapted: object" in w.propagation.summary_label.text()
    assert any("adapted: object" in n.message for n in w.notes.history)


def test_a_discarded_head_is_reported_and_the_earlier_head_kept(qtbot, make_window, folder, tiny_backend):
    w = make_window(tiny_backend, folder)
    paint_support(qtbot, w, "img_00.png")
    w.adaptation.config_overrides = dict(FAST)
    assert adapt(qtbot, w).kept
    saved = head_file(w).read_bytes()
    qtbot.waitUntil(lambda: "yes (1 support)" in head_text(w), timeout=10000)
    w.adaptation.config_overrides = {"steps": 2, "batch_size": 2, "revert_tolerance": -1.0}  # never good enough
    outcome = adapt(qtbot, w)
    assert not outcome.kept and "discarded" in outcome.summary
    note = w.notes.history[-1]
    assert note.level == "warning" and "discarded" in note.message and "keeps the head it had" in note.hint
    assert "discarded" in w.adaptation.progress_label.text()
    assert head_file(w).read_bytes() == saved, "a discarded head does not replace the earlier one"
    qtbot.waitUntil(lambda: "yes (1 support)" in head_text(w) and not w.service.long_job_running, timeout=10000)


def test_cancel_stops_promptly_and_writes_nothing(qtbot, make_window, folder, tiny_backend):
    w = make_window(tiny_backend, folder)
    paint_support(qtbot, w, "img_00.png")
    w.adaptation.config_overrides = {"steps": 500, "batch_size": 2, "revert_tolerance": 1.0}
    with qtbot.waitSignal(w.service.adaptation_progress, timeout=60000,
                          check_params_cb=lambda _j, i, _n: i >= 1):
        w.commands["model.adapt"].trigger()
    # one long job at a time: propagation is refused and disabled while adapting
    assert w.service.adaptation_running and w.adaptation.running
    assert not w.propagation.start_button.isEnabled() and not w.commands["model.propagate"].isEnabled()
    assert not w.adaptation.adapt_button.isEnabled() and w.adaptation.cancel_button.isEnabled()
    assert not w.propagation.start()
    assert w.service.propagate(w.document.project, "unlabelled") == -1
    t0 = time.monotonic()
    with qtbot.waitSignal(w.service.adaptation_finished, timeout=10000) as blocker:
        w.commands["model.cancel"].trigger()
    assert time.monotonic() - t0 < 2.0  # the core polls every step (a tiny-model step ≪ 1 s; slack for a busy CI)
    assert blocker.args[0].cancelled
    assert not head_file(w).exists()
    assert "Cancelled" in w.adaptation.progress_label.text()
    assert w.adaptation.adapt_button.isEnabled() and w.propagation.start_button.isEnabled()
    assert w.commands["model.propagate"].isEnabled() and not w.commands["model.cancel"].isEnabled()
    qtbot.waitUntil(lambda: "none" in head_text(w), timeout=10000)


def test_class_without_supports_and_other_errors_are_messages(qtbot, make_window, folder, tiny_backend):
    w = make_window(tiny_backend, folder)
    paint_support(qtbot, w, "img_00.png")
    cls = w.class_ops.add_class("empty")
    assert cls is not None
    w.class_ops.select_class_index([c.id for c in w.document.classes].index(cls.id))
    assert w.document.current_class == cls.id
    assert not w.adaptation.start()
    note = w.notes.history[-1]
    assert note.level == "warning" and "“empty” has no supports" in note.message
    assert not head_file(w, cls.id).exists()
    # the worker's own check (a caller that skips the panel's): a clear error, no crash
    failed = []
    w.service.adaptation_failed.connect(lambda _j, e: failed.append(e))
    with qtbot.waitSignal(w.service.adaptation_failed, timeout=30000):
        assert w.service.adapt(w.document.project, cls.id, config=FAST) > 0
    assert "no support with painted pixels" in failed[0].message and "press S" in failed[0].hint
    assert not w.service.long_job_running and w.commands["model.adapt"].isEnabled()
    # an unusable head file is shown as such (and the app keeps going)
    head_file(w, cls.id).parent.mkdir(parents=True, exist_ok=True)
    head_file(w, cls.id).write_bytes(b"not a head")
    w.adaptation.refresh_status()
    qtbot.waitUntil(lambda: "unusable" in head_text(w), timeout=10000)


def test_a_model_that_cannot_adapt_and_a_read_only_project_are_refused(qtbot, make_window, folder, fake_backend):
    w = make_window(fake_backend, folder)  # FakePredictor: no adapt()
    paint_support(qtbot, w, "img_00.png")
    assert not w.adaptation.adapt_button.isEnabled()
    assert not w.adaptation.start()
    assert "cannot be adapted" in w.notes.history[-1].message
    assert w.open_folder(folder, read_only=True)
    qtbot.waitUntil(lambda: w.document.current_mask is not None, timeout=5000)
    assert not w.commands["model.adapt"].isEnabled()
    assert not w.adaptation.start()
    assert "read-only" in w.notes.history[-1].message
    assert not head_file(w).exists()


def test_close_while_adapting_cancels_cleanly(qtbot, make_window, folder, tiny_backend):
    w = make_window(tiny_backend, folder)
    paint_support(qtbot, w, "img_00.png")
    w.adaptation.config_overrides = {"steps": 500, "batch_size": 2}
    with qtbot.waitSignal(w.service.adaptation_progress, timeout=60000,
                          check_params_cb=lambda _j, i, _n: i >= 1):
        w.commands["model.adapt"].trigger()
    path = head_file(w)
    assert "adapting" in w.status_line.model.text()
    w.close()
    assert not w.service.is_running and w.document.project is None
    assert not path.exists()
