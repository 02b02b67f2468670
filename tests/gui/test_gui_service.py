"""InferenceService: model loading (latest wins), propagation (live, cancel, errors), previews
(stale results dropped), clean shutdown — all with the fake predictor, no torch."""

from __future__ import annotations

import inspect
import time

import numpy as np
import pytest

from symnet_core.project import ImageStatus, Project
from symnet_gui.services.backend import FactoryBackend
from symnet_gui.services.inference_service import InferenceService, ModelState
from symnet_gui.services.inference_worker import support_fingerprint
from symnet_gui.services.mailbox import Mailbox
from symnet_gui.services.types import ModelInfo, ModelSpec, ServiceError
from tests.gui.fakes import FakePredictor


@pytest.fixture
def project(folder):
    p = Project.create(folder, ["box"])
    mask = np.zeros((96, 128), np.uint8)
    mask[20:60, 30:90] = 1
    p.set_mask("img_00.png", mask, status="support")
    yield p
    p.close()


@pytest.fixture
def service(fake_backend):
    s = InferenceService(fake_backend)
    yield s
    s.shutdown()
    assert not s.is_running


def load(qtbot, service):
    with qtbot.waitSignal(service.model_loaded, timeout=5000):
        service.load_model(ModelSpec("fake.pth"))


def test_mailbox_latest_wins():
    box: Mailbox[int] = Mailbox()
    for i in range(20):
        box.put(i)
    assert box.take() == 19 and box.take() is None and box.serial == 20


def test_load_model_latest_wins_and_states(qtbot, fake_config):
    loads: list[str] = []

    class Slow(FactoryBackend):
        def load(self, spec):
            loads.append(spec.checkpoint)
            time.sleep(0.2)
            return super().load(spec)

    s = InferenceService(Slow(lambda t, b: FakePredictor(fake_config, t, b)))
    try:
        states: list[str] = []
        s.model_state_changed.connect(lambda st: states.append(st))
        for i in range(5):
            s.load_model(ModelSpec(f"m{i}.pth"))
        with qtbot.waitSignal(s.model_loaded, timeout=5000):
            pass
        qtbot.waitUntil(lambda: s.model_state == ModelState.READY)
        assert len(loads) <= 2 and loads[-1] == "m4.pth", loads  # the queued ones collapsed into the newest
        assert states[0] == ModelState.LOADING
    finally:
        s.shutdown()


def test_model_failure_is_reported_not_raised(qtbot):
    err = ServiceError("model", "Not a usable Sym-Net checkpoint: x.pth", "Choose another file.")
    s = InferenceService(FactoryBackend(lambda t, b: None, fail=err))
    try:
        with qtbot.waitSignal(s.model_failed, timeout=5000) as blocker:
            s.load_model(ModelSpec("x.pth"))
        assert blocker.args[0].hint == "Choose another file."
        assert s.model_state == ModelState.ERROR
    finally:
        s.shutdown()


def test_real_backend_reports_missing_checkpoint(qtbot, tmp_path):
    s = InferenceService()
    try:
        with qtbot.waitSignal(s.model_failed, timeout=5000) as blocker:
            s.load_model(ModelSpec(str(tmp_path / "missing.pth")))
        assert "not found" in blocker.args[0].message
    finally:
        s.shutdown()


def test_propagation_reports_each_image_and_writes_it(qtbot, service, project, fake_config):
    load(qtbot, service)
    seen: list[tuple[int, int, str]] = []
    service.propagation_progress.connect(lambda j, d, n, k: seen.append((d, n, k)))
    with qtbot.waitSignal(service.propagation_finished, timeout=10000) as blocker:
        job = service.propagate(project, "unlabelled", threshold=0.5)
    outcome = blocker.args[0]
    assert outcome.job_id == job and not outcome.cancelled
    assert [d for d, _, _ in seen] == [1, 2, 3, 4, 5]
    assert set(outcome.predicted) == {f"img_0{i}.png" for i in range(1, 6)}
    for key in outcome.predicted:
        rec = project.image(key)
        assert rec.status is ImageStatus.PREDICTED and rec.confidence is not None
    m = project.get_mask("img_01.png")
    assert m[40, 60] == 1 and m[5, 5] == 0, "the fake segments the bright box"
    assert not service.propagation_running


def test_cancel_takes_effect_quickly(qtbot, service, project, fake_config):
    load(qtbot, service)
    fake_config.delay_s = 0.5
    with qtbot.waitSignal(service.propagation_progress, timeout=10000):
        service.propagate(project, "all")
    t0 = time.monotonic()
    assert service.cancel_propagation()
    with qtbot.waitSignal(service.propagation_finished, timeout=5000) as blocker:
        pass
    assert time.monotonic() - t0 < 1.5
    outcome = blocker.args[0]
    assert outcome.cancelled and not outcome.failed, "the image interrupted by cancel is not a failure"
    assert 1 <= len(outcome.predicted) < 5
    statuses = [project.image(f"img_0{i}.png").status for i in range(1, 6)]
    assert ImageStatus.UNLABELLED in statuses


def test_second_propagation_refused_while_running(qtbot, service, project, fake_config):
    load(qtbot, service)
    fake_config.delay_s = 0.1
    assert service.propagate(project, "all") > 0
    assert service.propagate(project, "all") == -1
    with qtbot.waitSignal(service.propagation_finished, timeout=10000):
        pass


def test_predictor_errors_are_reported(qtbot, service, project, fake_config):
    load(qtbot, service)
    fake_config.fail_always = True
    with qtbot.waitSignal(service.propagation_failed, timeout=10000) as blocker:
        service.propagate(project, "all")
    _job, error = blocker.args
    assert "failed" in error.message and not service.propagation_running


def test_no_supports_gives_a_hint(qtbot, service, folder):
    load(qtbot, service)
    with Project.create(folder, ["x"]) as p, qtbot.waitSignal(service.propagation_failed, timeout=5000) as blocker:
        service.propagate(p, "all")
    assert "support" in blocker.args[1].hint


def test_preview_latest_wins_and_stale_dropped(qtbot, service, project, fake_config):
    load(qtbot, service)
    fake_config.delay_s = 0.05
    got = []
    service.preview_ready.connect(lambda r: got.append(r))
    service.preview_failed.connect(lambda i, e: got.append(e))
    fp = support_fingerprint(project)
    ids = [service.request_preview(project, f"img_0{i}.png", fp) for i in range(1, 6)]
    qtbot.waitUntil(lambda: bool(got), timeout=5000)
    qtbot.wait(300)
    assert [r.request_id for r in got] == [ids[-1]], "only the newest request's result is delivered"
    result = got[-1]
    assert result.key == "img_05.png" and set(result.probabilities) == {1}
    assert result.probabilities[1].dtype == np.float32


def test_shutdown_during_propagation_stops_thread(qtbot, fake_config, project):
    s = InferenceService(FactoryBackend(lambda t, b: FakePredictor(fake_config, t, b)))
    load(qtbot, s)
    fake_config.delay_s = 0.3
    with qtbot.waitSignal(s.propagation_started, timeout=5000):
        s.propagate(project, "all")
    t0 = time.monotonic()
    assert s.shutdown(timeout_s=10)
    assert time.monotonic() - t0 < 2.0 and not s.is_running
    assert s.propagate(project, "all") == -1
    assert s._thread.isFinished(), "the worker QThread ran to its end (not merely never started)"


def test_model_info_is_plain_data():
    info = ModelInfo("id", "desc", "cpu")
    with pytest.raises(AttributeError):
        info.device = "cuda"  # type: ignore[misc]


def test_fake_predictor_protocol_matches_real():
    """The fake and the real predictor both take the calls propagation makes (signatures, not names)."""
    from symnet_core.inference.predictor import Predictor
    from symnet_core.workflows.contracts import PredictorLike
    from tests.protocols import signature_mismatches

    assert signature_mismatches(FakePredictor, PredictorLike) == []
    assert signature_mismatches(Predictor, PredictorLike) == []
    # and the fake takes the keyword the worker passes to the real one (``cancel``)
    assert "cancel" in inspect.signature(FakePredictor.predict).parameters
    assert "cancel" in inspect.signature(Predictor.predict).parameters
