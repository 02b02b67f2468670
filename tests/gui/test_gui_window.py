"""Whole-window workflows with the fake predictor: paint a support, propagate (live updates,
overlays), review with the keyboard, add to supports and re-propagate, export and validate,
close while propagating."""

from __future__ import annotations

import json
import threading

import numpy as np
from PySide6.QtCore import Qt

from symnet_core.io import validate_coco
from symnet_core.project import ImageStatus
from tests.gui.conftest import show_image
from tests.gui.test_gui_canvas import stroke


def paint_support(qtbot, w, key="img_00.png"):
    show_image(qtbot, w, key)
    w.canvas.set_brush_size(18)  # stays inside the bright box (rows 20-60, cols 30-90)
    stroke(qtbot, w, [(42, 30), (78, 30), (78, 50), (42, 50)])
    qtbot.keyClick(w.canvas, Qt.Key.Key_S)
    assert w.document.record(key).status is ImageStatus.SUPPORT


def propagate(qtbot, w, scope="unlabelled"):
    w.propagation.set_scope(scope)
    with qtbot.waitSignal(w.service.propagation_finished, timeout=15000) as blocker:
        w.commands["model.propagate"].trigger()
    return blocker.args[0]


def test_propagation_updates_statuses_overlays_and_current_mask(qtbot, make_window, folder, fake_backend):
    w = make_window(fake_backend, folder)
    paint_support(qtbot, w)
    show_image(qtbot, w, "img_02.png")
    live: list[str] = []
    w.document.records_changed.connect(lambda keys: live.extend(keys))
    outcome = propagate(qtbot, w)
    assert len(outcome.predicted) == 5
    assert {"img_01.png", "img_02.png", "img_05.png"} <= set(live), "results appear as each image finishes"
    recs = {r.path: r for r in w.document.records()}
    assert all(recs[f"img_0{i}.png"].status is ImageStatus.PREDICTED for i in range(1, 6))
    # the image on the canvas shows its prediction at once (mask and overlay)
    mask = w.document.current_mask
    box = mask[26:66, 30:90] == w.document.current_class  # img_02's bright box
    assert box.mean() > 0.9 and not mask[:20].any()
    assert w.canvas.mask_item._buf[40, 60] != 0
    assert "5/5 predicted" in w.propagation.summary_label.text()
    # the list model reports the new status for filtering
    w.images.set_filter(1)  # "To review (predicted)"
    assert len(w.images.ordered_keys()) == 5


def test_review_keys_accept_reject_and_navigation(qtbot, make_window, folder, fake_backend):
    w = make_window(fake_backend, folder)
    paint_support(qtbot, w)
    propagate(qtbot, w)
    show_image(qtbot, w, "img_01.png")
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, Qt.Key.Key_Return)  # accept and next unreviewed
    qtbot.waitUntil(lambda: w.document.current_key == "img_02.png" and not w.document.loading)
    assert w.document.record("img_01.png").status is ImageStatus.ACCEPTED
    qtbot.keyClick(w.canvas, Qt.Key.Key_R)  # reject and next
    qtbot.waitUntil(lambda: w.document.current_key == "img_03.png" and not w.document.loading)
    assert w.document.record("img_02.png").status is ImageStatus.REJECTED
    qtbot.keyClick(w.canvas, Qt.Key.Key_A)  # previous image
    qtbot.waitUntil(lambda: w.document.current_key == "img_02.png" and not w.document.loading)
    qtbot.keyClick(w.canvas, Qt.Key.Key_N)  # next to review skips accepted/rejected
    qtbot.waitUntil(lambda: w.document.current_key == "img_03.png" and not w.document.loading)
    # editing a prediction makes it "edited"
    w.canvas.set_brush_size(3)
    stroke(qtbot, w, [(5, 5)])
    assert w.document.save_now()
    assert w.document.record("img_03.png").status is ImageStatus.EDITED


def test_review_with_filter_keeps_going(qtbot, make_window, folder, fake_backend):
    w = make_window(fake_backend, folder)
    paint_support(qtbot, w)
    propagate(qtbot, w)
    w.images.set_filter(1)  # only "predicted" are listed; accepted ones vanish from the list
    show_image(qtbot, w, "img_01.png")
    for expected in ("img_02.png", "img_03.png", "img_04.png"):
        w.commands["review.accept_next"].trigger()
        qtbot.waitUntil(lambda e=expected: w.document.current_key == e and not w.document.loading)
    assert len(w.images.ordered_keys()) == 2


def test_add_to_supports_then_repropagate(qtbot, make_window, folder, fake_backend, fake_config):
    w = make_window(fake_backend, folder)
    paint_support(qtbot, w)
    propagate(qtbot, w)
    assert fake_config.supports_seen[-1] == 1
    show_image(qtbot, w, "img_03.png")
    w.canvas.set_brush_size(5)
    stroke(qtbot, w, [(35, 40), (80, 40)])  # correct the prediction, then make it a support
    w.commands["review.support"].trigger()
    assert w.document.record("img_03.png").status is ImageStatus.SUPPORT
    qtbot.waitUntil(lambda: w.propagation.hint_label.text() != "", timeout=2000)
    w.status_ops.accept("img_01.png")
    outcome = propagate(qtbot, w, scope="all")
    assert fake_config.supports_seen[-1] == 2, "the new support is used"
    assert set(outcome.predicted) == {"img_02.png", "img_04.png", "img_05.png"}
    assert w.document.record("img_01.png").status is ImageStatus.ACCEPTED, "accepted images are never overwritten"


def test_predict_current_image_and_cancel(qtbot, make_window, folder, fake_backend, fake_config):
    w = make_window(fake_backend, folder)
    paint_support(qtbot, w)
    show_image(qtbot, w, "img_04.png")
    with qtbot.waitSignal(w.service.propagation_finished, timeout=10000):
        w.commands["model.predict_current"].trigger()
    assert w.document.record("img_04.png").status is ImageStatus.PREDICTED
    assert w.document.record("img_01.png").status is ImageStatus.UNLABELLED
    fake_config.delay_s = 0.4
    w.propagation.set_scope("unlabelled")
    with qtbot.waitSignal(w.service.propagation_progress, timeout=10000):
        w.commands["model.propagate"].trigger()
    assert not w.propagation.start_button.isEnabled()
    with qtbot.waitSignal(w.service.propagation_finished, timeout=5000) as blocker:
        w.commands["model.cancel"].trigger()
    assert blocker.args[0].cancelled
    assert w.propagation.start_button.isEnabled()
    assert "Cancelled" in w.propagation.progress_label.text()


def test_propagate_without_model_or_support_explains(qtbot, make_window, folder, fake_backend):
    w = make_window(fake_backend, folder, model=False)
    assert not w.propagation.start()
    assert "No model" in w.notes.history[-1].message
    with qtbot.waitSignal(w.service.model_loaded, timeout=30000):
        w.load_checkpoint("fake.pth")
    assert not w.propagation.start()
    assert "support" in w.notes.history[-1].message.lower()


def test_export_writes_a_valid_coco_file(qtbot, make_window, folder, fake_backend, tmp_path):
    w = make_window(fake_backend, folder)
    paint_support(qtbot, w)
    propagate(qtbot, w)
    w.status_ops.accept("img_01.png")
    w.status_ops.accept("img_05.png")
    w.show_export()
    dlg = w.export_dialog
    out = tmp_path / "export"
    dlg.out_edit.setText(str(out))
    dlg.png_check.setChecked(True)
    with qtbot.waitSignal(dlg.task.finished, timeout=20000) as blocker:
        assert dlg.start_export()
    result = blocker.args[0]
    assert result.ok and result.valid, result.validation
    report = validate_coco(out / "instances.json", images_dir=folder)
    assert report.ok, report.summary()
    data = json.loads((out / "instances.json").read_text())
    assert {i["file_name"] for i in data["images"]} == {"img_00.png", "img_01.png", "img_05.png"}
    assert data["categories"] == [{"id": 1, "name": "object", "supercategory": ""}]
    assert all(a["id"] >= 1 and a["iscrowd"] == 0 for a in data["annotations"])
    assert (out / "png" / "classes.json").is_file()
    assert "COCO file OK" in dlg.result_text.toPlainText()
    # #18: statuses named as the list names them; files get the normal mode (0644 under umask 022)
    assert "Not exported: 3 predictions awaiting review." in result.summary, result.summary
    assert "unlabelled images skipped" not in result.summary
    import os
    umask = os.umask(0o022)
    os.umask(umask)
    for path in (out / "instances.json", out / "png" / "classes.json"):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, oct(path.stat().st_mode)


def test_export_refuses_folder_inside_images(qtbot, make_window, folder):
    w = make_window(folder=folder)
    w.show_export()
    dlg = w.export_dialog
    dlg.out_edit.setText(str(folder / "out"))
    assert not dlg.start_export()
    assert "outside" in dlg.status_label.text()


def test_close_while_propagating_cancels_cleanly(qtbot, make_window, folder, fake_backend, fake_config):
    w = make_window(fake_backend, folder)
    paint_support(qtbot, w)
    fake_config.delay_s = 0.3
    with qtbot.waitSignal(w.service.propagation_progress, timeout=10000):
        w.commands["model.propagate"].trigger()
    w.close()
    assert not w.service.is_running
    assert w.document.project is None
    # whatever finished is on disk, nothing is half-written
    from symnet_core.project import Project

    with Project.open(folder) as p:
        statuses = {r.path: r.status for r in p.images}
    assert statuses["img_00.png"] is ImageStatus.SUPPORT
    assert ImageStatus.PREDICTED in statuses.values()
    assert p.runs[-1].state in ("cancelled", "finished")


def test_model_error_is_shown_non_modally(qtbot, make_window, folder, tmp_path):
    w = make_window(folder=folder)  # real backend
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(w.service.model_failed, timeout=20000):
        w.load_checkpoint(bad)
    note = w.notes.history[-1]
    assert note.level == "error" and note.action_text == "Models…"  # the Models dialog, not a file picker
    assert w.toasts.toasts and w.toasts.toasts[-1].message == note.message
    assert "Model not available" in w.model_panel.state_label.text()


def test_unreadable_image_is_reported_and_skipped(qtbot, make_window, folder):
    (folder / "img_03.png").write_bytes(b"\x89PNG broken")
    w = make_window(folder=folder)
    w.document.select("img_03.png")
    qtbot.waitUntil(lambda: w.document.current_key == "img_03.png", timeout=5000)
    assert w.document.current_error and not w.document.editable
    assert any("img_03.png" in n.message for n in w.notes.history)
    show_image(qtbot, w, "img_04.png")
    assert w.document.editable


def _window_with_failing_disk_and_one_stroke(qtbot, make_window, folder, monkeypatch):
    """A window whose project refuses every mask write (disk full), after one brush stroke."""
    from symnet_core.project import ProjectWriteError

    w = make_window(folder=folder)

    def fail(*a, **k):
        raise ProjectWriteError("x.png", OSError(28, "No space left on device"))

    monkeypatch.setattr(w.document.project, "set_mask", fail)
    w.canvas.set_brush_size(5)
    stroke(qtbot, w, [(20, 20)])
    return w


def test_save_failure_keeps_edit_and_reports(qtbot, make_window, folder, monkeypatch):
    w = _window_with_failing_disk_and_one_stroke(qtbot, make_window, folder, monkeypatch)
    assert not w.document.save_now()
    assert w.document.dirty and w.document.save_state == "error"
    assert w.document.current_mask[20, 20] != 0
    assert "could not be saved" in w.notes.history[-1].message
    monkeypatch.undo()
    assert w.document.save_now() and not w.document.dirty
    assert np.any(w.document.project.get_mask(w.document.current_key))


def _gated_set_mask(monkeypatch, project):
    """Patch ``project.set_mask``: records the writing thread, waits for ``gate`` while set."""
    real = project.set_mask
    gate, threads = threading.Event(), []
    gate.set()

    def set_mask(*a, **k):
        threads.append(threading.get_ident())
        assert gate.wait(10)
        return real(*a, **k)

    monkeypatch.setattr(project, "set_mask", set_mask)
    return gate, threads


def test_autosave_writes_off_the_gui_thread_and_newer_edits_stay_unsaved(qtbot, make_window, folder, monkeypatch):
    w = make_window(folder=folder)
    doc = w.document
    gate, threads = _gated_set_mask(monkeypatch, doc.project)
    gate.clear()  # hold the first background write
    w.canvas.set_brush_size(5)
    stroke(qtbot, w, [(20, 20), (30, 20)])
    qtbot.waitUntil(lambda: bool(threads), timeout=3000)  # the autosave started...
    assert threads[0] != threading.get_ident(), "the autosave must not write on the GUI thread"
    stroke(qtbot, w, [(20, 40), (30, 40)])  # ...and the GUI goes on: an edit while it writes
    assert doc.current_mask[40, 25] != 0
    gate.set()
    qtbot.waitUntil(lambda: not doc.dirty, timeout=5000)  # the second edit is written by a second job
    assert len(threads) == 2 and doc.save_state == "saved"
    np.testing.assert_array_equal(doc.project.get_mask(doc.current_key), doc.current_mask)
    assert doc.project.image(doc.current_key).status is ImageStatus.EDITED


def test_save_now_waits_for_a_background_write(qtbot, make_window, folder, monkeypatch):
    w = make_window(folder=folder)
    doc = w.document
    gate, threads = _gated_set_mask(monkeypatch, doc.project)
    gate.clear()
    w.canvas.set_brush_size(5)
    stroke(qtbot, w, [(20, 20), (30, 20)])
    qtbot.waitUntil(lambda: bool(threads), timeout=3000)
    threading.Timer(0.2, gate.set).start()
    assert doc.save_now()  # blocks until the background write is done, then nothing is left to write
    assert not doc.dirty and len(threads) == 1
    np.testing.assert_array_equal(doc.project.get_mask(doc.current_key), doc.current_mask)


def test_background_save_failure_is_reported(qtbot, make_window, folder, monkeypatch):
    w = _window_with_failing_disk_and_one_stroke(qtbot, make_window, folder, monkeypatch)
    qtbot.waitUntil(lambda: w.document.save_state == "error", timeout=3000)
    assert w.document.dirty and "could not be saved" in w.notes.history[-1].message
    monkeypatch.undo()
    assert w.document.save_now() and not w.document.dirty


def test_demo_opens_generated_folder_with_supports(qtbot, make_window, fake_backend):
    from symnet_core.assets import demo_model_path

    w = make_window(fake_backend, model=False)
    with qtbot.waitSignal(w.service.demo_ready, timeout=30000):
        w.start_demo()
    qtbot.waitUntil(lambda: w.document.current_mask is not None, timeout=10000)
    project = w.document.project
    assert project is not None and len(project.supports()) == 3
    assert project.classes[0].name != "object", "the class is named after the demo's class"
    assert not any(n.message == "No model for this folder yet." for n in w.notes.history)  # the demo brings one
    shown = [n.message for n in w.toasts.toasts]
    assert not any("Preparing the demo" in m or "named “object”" in m for m in shown), shown  # #18: no stale news
    if not demo_model_path().is_file():
        assert any("demo model is missing" in n.message for n in w.notes.history)


def test_demo_folder_of_an_older_demo_model_is_not_reused(qtbot, make_window, fake_backend):
    import json

    from symnet_gui.platform.paths import data_dir

    old = data_dir() / "demo"
    old.mkdir(parents=True, exist_ok=True)
    (old / ".demo.json").write_text(json.dumps({"dataset": {"seed": 7, "n_classes": 30, "held_out": 6},
                                               "generator_version": 2}))  # fmt: skip
    w = make_window(fake_backend, model=False)
    with qtbot.waitSignal(w.service.demo_ready, timeout=30000) as blocker:
        w.start_demo()
    folder = blocker.args[0]
    assert folder != str(old) and folder.endswith("-s7c86h6")
    qtbot.waitUntil(lambda: w.document.current_mask is not None, timeout=10000)
    assert len(w.document.project.supports()) == 3
