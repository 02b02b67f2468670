"""Canvas tools through real mouse events: brush, eraser, polygon, fill holes, clear, undo/redo."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, Qt

from symnet_core.project import ImageStatus
from symnet_gui.canvas.raster import fill_polygon, stamp_segment
from symnet_gui.document.mask_ops import fill_holes
from tests.gui.conftest import to_view


def stroke(qtbot, window, points, button=Qt.MouseButton.LeftButton, modifier=Qt.KeyboardModifier.NoModifier):
    vp = window.canvas.viewport()
    pts = [to_view(window, x, y) for x, y in points]
    qtbot.mousePress(vp, button, modifier, pts[0])
    for p in pts[1:]:
        qtbot.mouseMove(vp, p)
    qtbot.mouseRelease(vp, button, modifier, pts[-1])


def test_brush_stroke_paints_and_undo_redo_restore(qtbot, make_window, folder):
    w = make_window(folder=folder)
    doc = w.document
    w.canvas.set_brush_size(5)
    before = doc.current_mask.copy()
    stroke(qtbot, w, [(10, 50), (40, 50), (70, 50)])
    after = doc.current_mask.copy()
    assert after[50, 10:71].all() and after[50, 10] == doc.current_class
    assert after[40, 40] == 0 and after[60, 40] == 0, "5 px brush must not reach 10 px away"
    assert doc.stack().count() == 1, "one stroke = one undo step"
    # the overlay shows the painted pixels in the class colour
    assert (w.canvas.mask_item._buf[50, 10:71] != 0).all()
    w.commands["edit.undo"].trigger()
    np.testing.assert_array_equal(doc.current_mask, before)
    assert w.canvas.mask_item._buf[50, 40] == 0
    w.commands["edit.redo"].trigger()
    np.testing.assert_array_equal(doc.current_mask, after)


def test_stroke_release_does_not_recolour_the_stroke_again(qtbot, make_window, folder):
    """The stamps re-coloured the overlay live; recording the undo step must not redo the whole
    stroke's box (on a 6000x4000 image that stalled the GUI ~50 ms at the end of a long stroke)."""
    w = make_window(folder=folder)
    w.canvas.set_brush_size(7)
    vp = w.canvas.viewport()
    pts = [to_view(w, x, y) for x, y in ((10, 50), (40, 45), (70, 60), (90, 20))]
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=pts[0])
    for p in pts[1:]:
        qtbot.mouseMove(vp, p)
    with qtbot.assertNotEmitted(w.document.mask_changed):
        qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=pts[-1])
    assert w.document.stack().count() == 1
    live = w.canvas.mask_item._buf.copy()
    w.canvas.mask_item.update_region(QRect())  # re-colour everything from the mask
    np.testing.assert_array_equal(live, w.canvas.mask_item._buf)


def test_stroke_is_saved_and_makes_image_edited(qtbot, make_window, folder):
    w = make_window(folder=folder)
    key = w.document.current_key
    w.canvas.set_brush_size(9)
    stroke(qtbot, w, [(30, 30), (60, 40)])
    qtbot.waitUntil(lambda: not w.document.dirty, timeout=3000)
    rec = w.document.project.image(key)
    assert rec.status is ImageStatus.EDITED
    assert (w.document.project.get_mask(key) == w.document.current_mask).all()
    # undoing back to the opened state makes the image unlabelled again
    w.commands["edit.undo"].trigger()
    assert w.document.save_now()
    assert w.document.project.image(key).status is ImageStatus.UNLABELLED


def test_right_button_and_eraser_erase(qtbot, make_window, folder):
    w = make_window(folder=folder)
    doc = w.document
    w.canvas.set_brush_size(15)
    stroke(qtbot, w, [(50, 50), (80, 50)])
    assert doc.current_mask[50, 60] == doc.current_class
    w.canvas.set_brush_size(3)
    stroke(qtbot, w, [(60, 40), (60, 60)], button=Qt.MouseButton.RightButton)
    assert doc.current_mask[50, 60] == 0 and doc.current_mask[50, 70] == doc.current_class
    qtbot.keyClick(w.canvas, Qt.Key.Key_E)
    assert w.canvas.tool_name == "eraser"
    stroke(qtbot, w, [(70, 40), (70, 60)])
    assert doc.current_mask[50, 70] == 0
    assert doc.stack().count() == 3


def test_brush_size_keys_and_outline(qtbot, make_window, folder):
    w = make_window(folder=folder)
    w.canvas.set_brush_size(20)
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, Qt.Key.Key_BracketRight)
    assert w.canvas.brush_size == 23
    qtbot.keyClick(w.canvas, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(w.canvas, Qt.Key.Key_BracketLeft)
    assert w.canvas.brush_size < 23
    qtbot.mouseMove(w.canvas.viewport(), to_view(w, 40, 40))
    assert w.canvas._outline.rect().width() == pytest.approx(w.canvas.brush_size)


def test_deep_undo_history(qtbot, make_window, folder):
    w = make_window(folder=folder)
    doc = w.document
    w.canvas.set_brush_size(1)
    original = doc.current_mask.copy()
    for i in range(120):
        stroke(qtbot, w, [(i % 128, i % 96)])
    assert doc.stack().count() == 120
    for _ in range(120):
        w.commands["edit.undo"].trigger()
    np.testing.assert_array_equal(doc.current_mask, original)


def test_polygon_tool_fills_and_escape_cancels(qtbot, make_window, folder):
    w = make_window(folder=folder)
    doc = w.document
    qtbot.keyClick(w.canvas, Qt.Key.Key_P)
    assert w.canvas.tool_name == "polygon"
    vp = w.canvas.viewport()
    for x, y in [(20, 20), (60, 20), (60, 60)]:
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=to_view(w, x, y))
    qtbot.keyClick(w.canvas, Qt.Key.Key_Escape)
    assert not doc.current_mask.any() and not w.canvas.tool.points
    for x, y in [(20, 20), (60, 20), (60, 60), (20, 60)]:
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=to_view(w, x, y))
    key_before = doc.current_key
    qtbot.keyClick(w.canvas, Qt.Key.Key_Return)  # closes the polygon, does NOT accept the image
    assert doc.current_key == key_before
    m = doc.current_mask
    assert m[40, 40] == doc.current_class and m[30:50, 30:50].all()
    assert m[10, 10] == 0 and m[70, 70] == 0
    assert doc.stack().count() == 1
    w.commands["edit.undo"].trigger()
    assert not doc.current_mask.any()


def test_fill_holes_and_clear(qtbot, make_window, folder):
    w = make_window(folder=folder)
    doc = w.document
    ring = np.zeros_like(doc.current_mask)
    ring[20:60, 20:60] = doc.current_class
    ring[30:50, 30:50] = 0
    assert doc.replace_mask(ring, "ring")
    w.commands["edit.fill_holes"].trigger()
    assert doc.current_mask[40, 40] == doc.current_class
    w.commands["edit.clear"].trigger()
    assert not doc.current_mask.any()
    w.commands["edit.undo"].trigger()
    assert doc.current_mask[40, 40] == doc.current_class


def test_class_switching_paints_other_class(qtbot, make_window, folder):
    w = make_window(folder=folder)
    doc = w.document
    second = w.class_ops.add_class("cell", "#00ff00")
    first = doc.classes[0]
    qtbot.keyClick(w.canvas, Qt.Key.Key_1)
    assert doc.current_class == first.id
    w.canvas.set_brush_size(7)
    stroke(qtbot, w, [(30, 30)])
    qtbot.keyClick(w.canvas, Qt.Key.Key_2)
    assert doc.current_class == second.id
    stroke(qtbot, w, [(31, 30)])  # overlaps: the pixel now belongs to the second class only
    m = doc.current_mask
    assert m[30, 31] == second.id and m[30, 27] == first.id
    assert set(np.unique(m)) == {0, first.id, second.id}
    # hiding a class only changes the overlay, not the mask
    w.canvas.set_hidden_classes({second.id})
    assert w.canvas.mask_item._buf[30, 31] == 0 and m[30, 31] == second.id


def test_zoom_and_fit(qtbot, make_window, folder):
    w = make_window(folder=folder)
    c = w.canvas
    fit = c.scale_factor
    c.zoom_actual()
    assert c.scale_factor == pytest.approx(1.0)
    c.zoom_in()
    assert c.scale_factor == pytest.approx(1.25)
    c.zoom_fit()
    assert c.scale_factor == pytest.approx(fit)
    qtbot.mouseMove(c.viewport(), QPoint(5, 5))


def test_raster_helpers_are_pixel_exact():
    m = np.zeros((40, 40), np.uint8)
    assert stamp_segment(m, (20.5, 20.5), (20.5, 20.5), 1, 3) is not None
    assert m.sum() == 3 and m[20, 20] == 3
    assert stamp_segment(m, (-50, -50), (-40, -40), 5, 1) is None
    _box, _before, after = fill_polygon(m, [(10, 10), (30, 10), (30, 30), (10, 30)], 2)
    assert (after == 2).sum() >= 400 and not m[15, 15]  # mask itself untouched
    ring = np.zeros((10, 10), np.uint8)
    ring[2:8, 2:8] = 1
    ring[4:6, 4:6] = 0
    ring[4, 4] = 2
    out = fill_holes(ring, 1)
    assert out[5, 5] == 1 and out[4, 4] == 2 and out[0, 0] == 0
