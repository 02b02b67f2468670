"""The service with a tiny REAL Sym-Net (width 8, input 129) wrapped in symnet_core.Predictor:
load, propagate, preview — the whole path the GUI uses, on the CPU, in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from symnet_core.project import ImageStatus, Project
from symnet_gui.services.backend import FactoryBackend
from symnet_gui.services.inference_service import InferenceService
from symnet_gui.services.inference_worker import support_fingerprint
from symnet_gui.services.types import ModelInfo, ModelSpec

torch = pytest.importorskip("torch")


@pytest.fixture
def tiny_backend():
    from symnet_core import Predictor
    from tests.model_helpers import tiny_model

    model = tiny_model()

    def make(threshold: float, use_base_learner: bool) -> Predictor:
        return Predictor(model, "cpu", threshold=threshold, use_base_learner=use_base_learner, model_id="tiny")

    return FactoryBackend(make, ModelInfo("tiny", "tiny SymNet (width 8, input 129)", "cpu"))


def test_tiny_real_model_propagates_and_previews(qtbot, folder, tiny_backend):
    project = Project.create(folder, ["box"])
    mask = np.zeros((96, 128), np.uint8)
    mask[20:60, 30:90] = 1
    project.set_mask("img_00.png", mask, status="support")
    service = InferenceService(tiny_backend)
    try:
        with qtbot.waitSignal(service.model_loaded, timeout=10000):
            service.load_model(ModelSpec("tiny"))
        done = []
        service.propagation_progress.connect(lambda j, d, n, k: done.append(k))
        with qtbot.waitSignal(service.propagation_finished, timeout=60000) as blocker:
            service.propagate(project, "unlabelled", threshold=0.5)
        outcome = blocker.args[0]
        assert not outcome.failed and not outcome.cancelled, outcome
        assert len(done) == 5 and len(outcome.predicted) == 5
        for key in outcome.predicted:
            rec = project.image(key)
            assert rec.status is ImageStatus.PREDICTED and rec.model == "tiny"
            assert 0.0 <= rec.confidence <= 1.0
            m = project.get_mask(key)
            assert m is not None and m.shape == (96, 128) and set(np.unique(m)) <= {0, 1}
        got = []
        service.preview_ready.connect(lambda r: got.append(r))
        service.request_preview(project, "img_03.png", support_fingerprint(project))
        qtbot.waitUntil(lambda: bool(got), timeout=30000)
        prob = got[0].probabilities[1]
        assert prob.dtype == np.float32 and prob.shape == (96, 128)
        assert prob.min() >= 0.0 and prob.max() <= 1.0
    finally:
        assert service.shutdown()
        project.close()


def test_checkpoint_backend_loads_a_real_checkpoint_file(qtbot, folder, tmp_path):
    """The default backend: checkpoint file -> model + text embedder -> predictions in the project."""
    from symnet_core.model.checkpoints import save_checkpoint
    from tests.model_helpers import tiny_model

    path = save_checkpoint(tiny_model(), tmp_path / "tiny.pth", dataset="synthetic",
                           text_encoder={"kind": "hashed", "salt": "symnet-synthetic"})
    project = Project.create(folder, ["box"])
    mask = np.zeros((96, 128), np.uint8)
    mask[20:60, 30:90] = 1
    project.set_mask("img_00.png", mask, status="support")
    service = InferenceService()  # CheckpointBackend
    try:
        with qtbot.waitSignal(service.model_loaded, timeout=60000) as blocker:
            service.load_model(ModelSpec(str(path), "cpu"))
        info = blocker.args[0]
        assert info.device == "cpu" and "tiny.pth" in info.model_id
        assert "ResNet" in info.description and info.warnings == ()
        with qtbot.waitSignal(service.propagation_finished, timeout=60000) as blocker:
            service.propagate(project, "selected", ("img_01.png", "img_02.png"), threshold=0.5)
        outcome = blocker.args[0]
        assert outcome.predicted == ("img_01.png", "img_02.png") and not outcome.failed
        assert project.image("img_01.png").model == info.model_id
    finally:
        assert service.shutdown()
        project.close()


def test_the_app_predicts_in_fp32_and_never_asks_for_slow_bf16(tmp_path, caplog):
    """The app offers no precision choice; the predictors it makes run fp32, so bf16 (far slower
    than fp32 on a CPU without bf16 kernels) can't be chosen without the user knowing. If a
    precision ever appears in the model spec or the settings, this test is the reminder that the
    user must be told when bf16 is slow on their CPU."""
    import dataclasses
    import logging

    from symnet_core.model.checkpoints import save_checkpoint
    from symnet_gui.platform.settings import AppSettings
    from symnet_gui.services.backend import APP_PRECISION, CheckpointBackend
    from tests.model_helpers import tiny_model

    path = save_checkpoint(tiny_model(), tmp_path / "tiny.pth", dataset="synthetic",
                           text_encoder={"kind": "hashed", "salt": "symnet-synthetic"})
    loaded = CheckpointBackend().load(ModelSpec(str(path), "cpu"))
    with caplog.at_level(logging.WARNING, logger="symnet_core.inference.predictor"):
        predictors = [loaded.make_predictor(0.5, True), loaded.make_predictor(0.3, False)]
    assert APP_PRECISION == "fp32"
    assert [p.precision for p in predictors] == ["fp32", "fp32"]
    assert not [r for r in caplog.records if "bf16" in r.getMessage()]
    for kind in (ModelSpec, AppSettings):
        fields = {f.name for f in dataclasses.fields(kind)}
        assert not any("precision" in f or "dtype" in f for f in fields), \
            f"{kind.__name__} now chooses a precision: show when bf16 is slow on this CPU (cpu_has_fast_bf16)"
