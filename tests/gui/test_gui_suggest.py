""""Next suggested image" (J) and the "Suggested next" sort: with a cache written by the core,
and end to end with a tiny real Sym-Net propagating through the window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from symnet_core.project import ImageStatus, Project
from symnet_core.project.embeddings import read_embeddings, store_embeddings
from symnet_core.workflows.next_image import suggest_next
from tests.gui.conftest import show_image
from tests.gui.test_gui_window import propagate


def _ranked_project(folder):
    """img_00 support; img_01 looks like it; img_02/03 alike, img_04 apart; img_05 never propagated."""
    p = Project.create(folder, ["box"])
    mask = np.zeros((96, 128), np.uint8)
    mask[20:60, 30:90] = 1
    p.set_mask("img_00.png", mask, status="support")
    for i, conf in zip(range(1, 5), (0.9, 0.6, 0.7, 0.8), strict=True):
        p.store_prediction(f"img_0{i}.png", mask, confidence=conf, model="m")
    e = np.eye(4, dtype=np.float32)
    store_embeddings(p.project_dir, "m", {
        "img_00.png": e[0], "img_01.png": e[0] + 0.05 * e[1], "img_02.png": e[1], "img_03.png": e[1] + 0.1 * e[2],
        "img_04.png": e[3],
    })
    p.close()


def _wait_ranked(qtbot, w):
    qtbot.waitUntil(lambda: w.suggest.order is not None, timeout=5000)


def test_j_jumps_to_the_suggestion_and_follows_new_supports(qtbot, make_window, folder):
    _ranked_project(folder)
    w = make_window(folder=folder)
    with Project.open(folder, read_only=True) as ro:
        expected = suggest_next(ro)
    assert expected.ranked[0] in ("img_02.png", "img_04.png")  # far from the support, not its look-alike
    show_image(qtbot, w, "img_00.png")
    qtbot.keyClick(w.canvas, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: w.document.current_key == expected.ranked[0], timeout=5000)

    # the user makes it a support (S): the next suggestion treats it as a center
    qtbot.waitUntil(lambda: not w.document.loading, timeout=5000)
    qtbot.keyClick(w.canvas, Qt.Key.Key_S)
    assert w.document.record(expected.ranked[0]).status is ImageStatus.SUPPORT
    w.document.save_now()
    with Project.open(folder, read_only=True) as ro:
        again = suggest_next(ro)
    assert expected.ranked[0] not in again.order and again.supports_used == 2
    qtbot.keyClick(w.canvas, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: w.document.current_key == again.ranked[0], timeout=5000)


def test_the_list_sorts_by_suggestion_and_refreshes_when_statuses_change(qtbot, make_window, folder):
    _ranked_project(folder)
    w = make_window(folder=folder)
    w.images.set_sort_mode("suggested")
    _wait_ranked(qtbot, w)
    shown = w.images.ordered_keys()
    with Project.open(folder, read_only=True) as ro:
        expected = suggest_next(ro)
    assert shown[: len(expected.order)] == list(expected.order)
    assert shown[-1] == "img_00.png", "the support (not a candidate) comes last"
    assert expected.unranked == ("img_05.png",) and shown.index("img_05.png") == len(expected.ranked)

    # accepting the top image takes it out of the candidates: the list re-sorts by itself
    top = shown[0]
    show_image(qtbot, w, top)
    assert w.status_ops.set_status(ImageStatus.ACCEPTED)
    qtbot.waitUntil(lambda: w.images.ordered_keys()[0] != top, timeout=5000)
    assert w.images.ordered_keys().index(top) > len(expected.order) - 2


def test_nothing_ranked_says_to_propagate_first(qtbot, make_window, folder):
    w = make_window(folder=folder)
    before = w.document.current_key
    w.commands["review.next_suggested"].trigger()
    qtbot.waitUntil(lambda: any("propagate first" in n.message for n in w.notes.history), timeout=5000)
    assert w.document.current_key == before


def test_shortcut_is_listed_and_unique(qtbot, make_window):
    from symnet_gui.actions.table import ACTIONS, shortcut_conflicts

    spec = next(a for a in ACTIONS if a.id == "review.next_suggested")
    assert spec.shortcuts == ("J",) and "least sure" in spec.tip
    assert not shortcut_conflicts()
    w = make_window()
    assert w.commands["review.next_suggested"].shortcut().toString() == "J"
    assert "Suggested (J)" in [w.images.sort_box.itemText(i) for i in range(w.images.sort_box.count())]


@pytest.fixture
def tiny_backend():
    pytest.importorskip("torch")
    from symnet_core import Predictor
    from symnet_gui.services.backend import FactoryBackend
    from symnet_gui.services.types import ModelInfo
    from tests.model_helpers import tiny_model

    model = tiny_model()
    return FactoryBackend(
        lambda threshold, base: Predictor(model, "cpu", threshold=threshold, use_base_learner=base, model_id="tiny"),
        ModelInfo("tiny", "tiny SymNet (width 8, input 129)", "cpu"),
    )


def test_after_a_real_propagation_j_goes_to_the_top_ranked_image(qtbot, make_window, folder, tiny_backend):
    from tests.gui.test_gui_window import paint_support

    w = make_window(tiny_backend, folder)
    paint_support(qtbot, w)
    w.images.set_sort_mode("suggested")
    outcome = propagate(qtbot, w)
    assert len(outcome.predicted) == 5
    project = w.document.project
    cache = read_embeddings(project.project_dir)
    assert cache.model == "tiny" and sorted(cache.vectors) == [f"img_0{i}.png" for i in range(6)]
    expected = suggest_next(project)
    assert len(expected.ranked) == 5
    qtbot.waitUntil(lambda: w.images.ordered_keys()[:5] == list(expected.ranked), timeout=5000)
    show_image(qtbot, w, "img_00.png")
    w.commands["review.next_suggested"].trigger()
    qtbot.waitUntil(lambda: w.document.current_key == expected.ranked[0], timeout=5000)
