"""The Models dialog with real widgets, a real registry, real checkpoint loading and a loopback server."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from symnet_core.model.checkpoints import save_checkpoint
from symnet_core.project import Project
from symnet_gui.main_window import MainWindow
from symnet_gui.platform.settings import AppSettings
from symnet_gui.services.models_service import ModelsService
from tests.http_fixtures import ServerState, authors_layout_bytes, serve
from tests.model_helpers import tiny_model


@pytest.fixture
def tiny_ckpt(tmp_path: Path) -> Path:
    path = tmp_path / "blobs-model.pth"
    save_checkpoint(tiny_model(1), path, dataset="synthetic",
                    text_encoder={"kind": "hashed", "salt": "symnet-synthetic"}, base_classes=["blob", "a", "b"])
    return path


def _window(qtbot, tmp_path: Path, models: Path) -> MainWindow:
    w = MainWindow(AppSettings(path=tmp_path / "settings.yaml", autosave_delay_ms=50), None,
                   ModelsService(str(models)))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_no_model_to_verified_remembered_model_without_a_file_dialog(qtbot, tmp_path, folder, tiny_ckpt,
                                                                      monkeypatch):
    def no_file_dialog(*_a, **_k):
        raise AssertionError("a file dialog was opened")

    monkeypatch.setattr(QFileDialog, "getOpenFileName", no_file_dialog)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", no_file_dialog)
    with Project.create(folder, classes=["blob"]) as project:
        project.set_mask("img_00.png", np.zeros((96, 128), np.uint8))
    models = tmp_path / "models"
    w = _window(qtbot, tmp_path, models)
    assert w.open_folder(folder)
    offer = [n for n in w.notes.history if n.message == "No model for this folder yet."]
    assert offer and offer[-1].action_text == "Models…"

    offer[-1].action()  # the notification's button opens the dialog (not a file picker)
    dialog = w._models_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.catalogue.rowCount() >= 4 and dialog.installed.rowCount() == 0
    with qtbot.waitSignal(w.models_service.installed, timeout=30000) as blocker:
        assert dialog.add_file(str(tiny_ckpt))
    entry = blocker.args[0]
    assert entry.name == "blobs-model" and entry.base_classes == ("blob", "a", "b")
    assert entry.sha256 == hashlib.sha256(tiny_ckpt.read_bytes()).hexdigest()
    assert dialog.installed.rowCount() == 1 and "Installed blobs-model" in dialog.status.text()

    dialog.select_installed("blobs-model")
    assert dialog.use_button.isEnabled()
    with qtbot.waitSignal(w.service.model_loaded, timeout=30000):
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert w.service.model_spec.label == "blobs-model"
    assert w.document.project.settings["model"] == "blobs-model"
    assert any("base class" in n.message and "blob" in n.message for n in w.notes.history)
    w.close()

    again = _window(qtbot, tmp_path, models)  # a new session: the folder remembers its model
    with qtbot.waitSignal(again.service.model_loaded, timeout=30000):
        assert again.open_folder(folder)
    assert again.service.model_spec.label == "blobs-model"
    assert not any(n.message == "No model for this folder yet." for n in again.notes.history)
    again.close()


def test_download_progress_and_cancel_leave_nothing(qtbot, tmp_path):
    models = tmp_path / "models"
    service = ModelsService(str(models))
    from symnet_gui.widgets.models_dialog import ModelsDialog

    dialog = ModelsDialog(service)
    qtbot.addWidget(dialog)
    data = authors_layout_bytes()
    state = ServerState(files={"/slow.pth": data}, chunk_delay_s=0.02)
    with serve(state) as base:
        with qtbot.waitSignal(service.progress, timeout=10000):
            assert service.add(f"{base}/slow.pth")
        dialog._update_buttons()
        assert dialog.cancel_button.isEnabled()
        with qtbot.waitSignal(service.cancelled, timeout=10000):
            qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    service.wait()
    assert "Cancelled" in dialog.status.text()
    assert sorted(p.name for p in models.iterdir()) == []
    assert dialog.installed.rowCount() == 0


def test_an_installed_word2vec_table_is_found_for_an_authors_checkpoint(tmp_path, monkeypatch):
    import pickle

    from symnet_core.weights import ModelManager
    from symnet_gui.services.backend import _find_word2vec

    table = tmp_path / "word2vec_pascal.pkl"
    rows = np.random.default_rng(0).normal(size=(21, 300)).astype(np.float32)
    table.write_bytes(pickle.dumps(rows, protocol=2))
    models = tmp_path / "models"
    monkeypatch.setenv("SYMNET_MODELS_DIR", str(models))
    entry = ModelManager().add(str(table), name="word2vec-pascal")
    assert entry.kind == "word2vec" and entry.dataset == "pascal" and entry.architecture == {"rows": 21, "dim": 300}
    found = _find_word2vec({"kind": "word2vec", "dataset": "pascal"}, tmp_path / "elsewhere" / "ckpt.pth")
    assert found == models / "word2vec-pascal.pkl"
    assert _find_word2vec({"kind": "word2vec", "dataset": "coco"}, tmp_path / "elsewhere" / "ckpt.pth") is None


def test_dialog_shows_a_damaged_registry_instead_of_failing(qtbot, tmp_path):
    from symnet_gui.widgets.models_dialog import ModelsDialog

    models = tmp_path / "models"
    models.mkdir()
    (models / "registry.json").write_text("[]")
    dialog = ModelsDialog(ModelsService(str(models)))
    qtbot.addWidget(dialog)
    assert "not a symnet-annotate model registry" in dialog.status.text()
    assert dialog.installed.rowCount() == 0 and not dialog.use_button.isEnabled()
