"""Issue #18: the app as people use it every day (notifications, filter, elision, remembered state...)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QWidget

from tests.gui.conftest import show_image
from tests.gui.test_gui_canvas import stroke
from tests.gui.test_gui_window import paint_support


def _visible_rect(widget) -> QRect:
    """``widget``'s rectangle in window coordinates."""
    top_left = widget.mapTo(widget.window(), QPoint(0, 0))
    return QRect(top_left, widget.size())


def test_messages_never_cover_the_canvas_and_overflow_is_counted(qtbot, make_window, folder):
    w = make_window(folder=folder)
    w.toasts.clear()
    for i in range(4):
        w.notes.warning(f"problem {i}")
    qtbot.waitUntil(lambda: w.toasts.isVisible(), timeout=2000)
    assert [n.message for n in w.toasts.toasts] == ["problem 2", "problem 3"]  # newest two
    assert "+2 more" in w.toasts._more.text()
    assert not _visible_rect(w.toasts).intersects(_visible_rect(w.canvas))
    w.show_messages()
    assert not w.toasts._more.isVisible()


def test_new_class_message_goes_once_the_class_is_renamed(qtbot, make_window, folder):
    w = make_window(folder=folder)
    assert any(n.key == "default-class" for n in w.toasts.toasts), "a new project says it made a class"
    w.class_ops.rename_class(w.document.classes[0].id, "cell")
    assert not any(n.key == "default-class" for n in w.toasts.toasts), "renamed: the message is gone"


def test_no_supports_warning_goes_once_there_is_a_support(qtbot, make_window, folder, fake_backend):
    w = make_window(fake_backend, folder)
    w.commands["model.propagate"].trigger()
    assert any(n.message == "No supports yet." for n in w.toasts.toasts)
    paint_support(qtbot, w)
    assert not any(n.message == "No supports yet." for n in w.toasts.toasts), "a support exists now"


def test_keyed_message_replaces_the_previous_one(qtbot, make_window):
    w = make_window()
    w.notes.post("warning", "step 1", key="k")
    w.notes.post("warning", "step 2", key="k")
    assert [n.message for n in w.toasts.toasts if n.key == "k"] == ["step 2"]
    w.notes.resolve("k")
    assert not any(n.key == "k" for n in w.toasts.toasts)


def test_typing_in_the_filter_box_never_switches_the_image(qtbot, make_window, folder):
    w = make_window(folder=folder)
    show_image(qtbot, w, "img_02.png")
    qtbot.keyClicks(w.images.search, "img_04")
    qtbot.waitUntil(lambda: "hidden by the name filter" in w.images.count_label.text(), timeout=2000)
    assert w.images.ordered_keys() == ["img_04.png"]
    assert w.document.current_key == "img_02.png"
    assert "5 hidden by the name filter" in w.images.count_label.text()
    # a click in the list still picks an image
    rect = w.images.view.visualRect(w.images.proxy.index(0, 0))
    qtbot.mouseClick(w.images.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: w.document.current_key == "img_04.png", timeout=5000)


def test_status_filter_keeps_the_current_image_and_says_what_it_hides(qtbot, make_window, folder):
    w = make_window(folder=folder)
    paint_support(qtbot, w, "img_00.png")
    show_image(qtbot, w, "img_03.png")
    w.images.set_filter(3)  # Unlabelled
    w.canvas.set_brush_size(18)
    stroke(qtbot, w, [(42, 30), (78, 30)])  # img_03 becomes "edited": no longer matches the filter
    qtbot.wait(200)
    assert w.document.current_key == "img_03.png", "editing under a filter never switches the image"
    assert "img_03.png" in w.images.ordered_keys(), "the current image stays listed"
    qtbot.keyClick(w.canvas, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: "hidden by the status filter" in w.images.count_label.text(), timeout=2000)
    assert w.document.current_key == "img_03.png"
    assert w.images.ordered_keys() == ["img_01.png", "img_02.png", "img_03.png", "img_04.png", "img_05.png"]
    assert "1 hidden by the status filter" in w.images.count_label.text()  # img_00, the first support


def test_file_name_above_the_image_is_whole_when_there_is_room(qtbot, make_window, tmp_path):
    from PIL import Image

    root = tmp_path / "long"
    root.mkdir()
    for i in range(3):
        Image.new("RGB", (64, 48), (i * 40, 90, 120)).save(root / f"demo_long_file_name_{i:03d}.png")
    w = make_window(folder=root)
    w.resize(1280, 800)
    qtbot.wait(100)
    label = w.review_bar.name_label
    assert "demo_long_file_name_000.png" in label.text() and "1 / 3" in label.text()
    assert label.geometry().right() <= w.review_bar.width()
    label.resize(120, label.height())  # no room: the name elides in the middle, never clipped
    assert "…" in label.text() and "1 / 3" not in label.text()


def test_polygon_erases_with_shift_not_alt(qtbot, make_window, folder):
    from tests.gui.conftest import to_view

    w = make_window(folder=folder)
    doc = w.document
    w.canvas.set_brush_size(40)
    stroke(qtbot, w, [(40, 40), (60, 40)])
    assert doc.current_mask[40, 50] == doc.current_class
    qtbot.keyClick(w.canvas, Qt.Key.Key_P)
    vp = w.canvas.viewport()
    for x, y in [(30, 30), (70, 30), (70, 50)]:
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=to_view(w, x, y))
    qtbot.mouseDClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, to_view(w, 30, 50))
    assert doc.current_mask[40, 50] == 0, "Shift+double-click erases the polygon"
    assert "Shift" in w.commands["tool.polygon"].toolTip()


def test_project_view_state_is_remembered_and_recent_menu_reopens(qtbot, make_window, folder):
    w = make_window(folder=folder)
    show_image(qtbot, w, "img_04.png")
    w.images.set_sort_mode("confidence_low")
    w.propagation.set_scope("all")
    w.set_opacity(0.8)
    w.close()  # remembers and saves the settings
    settings = w.settings
    entry = settings.project_views[str(folder.resolve())]
    assert entry == {"image": "img_04.png", "sort": "confidence_low", "scope": "all", "opacity": 0.8}

    again = make_window()
    again.settings.project_views = dict(settings.project_views)
    again.settings.recent_folders = list(settings.recent_folders)
    again.recent_menu.rebuild()
    labels = [a.text() for a in again.recent_menu.actions()]
    assert any(folder.name in t for t in labels)
    again.recent_menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: again.document.current_key == "img_04.png" and not again.document.loading, timeout=5000)
    assert again.images.sort_mode() == "confidence_low"
    assert again.propagation.scope == "all"
    assert abs(again.canvas.overlay_opacity - 0.8) < 1e-6


def test_started_without_a_folder_offers_the_last_one(qtbot, make_window, folder):
    from symnet_gui.app import offer_last_folder

    w = make_window()
    w.settings.recent_folders = [str(folder.parent / "gone"), str(folder)]
    assert offer_last_folder(w)
    offer = next(n for n in w.toasts.toasts if n.key == "last-folder")
    assert folder.name in offer.message and offer.action is not None
    offer.action()
    qtbot.waitUntil(lambda: w.document.current_mask is not None, timeout=5000)
    assert not any(n.key == "last-folder" for n in w.toasts.toasts), "the offer goes once a folder is open"


def test_toolbar_shows_icons_with_text_on_hover(qtbot, make_window):
    from PySide6.QtWidgets import QToolButton

    from symnet_gui.widgets.toolbar import TOOLBAR

    w = make_window()
    ids = [i for i in TOOLBAR if not i.startswith("|") and i in w.commands]
    assert len(ids) >= 12
    for action_id in ids:
        action = w.commands[action_id]
        assert not action.icon().isNull(), action_id
        assert action.toolTip().strip(), action_id
        button = w.toolbar.widgetForAction(action)
        assert isinstance(button, QToolButton)
        assert button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly


def _clipped(widget) -> str:
    """"" when ``widget`` has the room its content needs and, scrolled to, lies inside every ancestor.

    Checked against each parent up to the window, not only a scroll area's viewport: a panel squeezed
    below its layout's minimum pushes its children past its own edge (cut by the dock), and a widget
    given less height than its wrapped text needs loses lines without leaving its parent.
    """
    from PySide6.QtWidgets import QScrollArea

    name = f"{type(widget).__name__} {widget.text()[:50]!r}" if hasattr(widget, "text") else type(widget).__name__
    hint = widget.minimumSizeHint()
    need_h = max(hint.height(), widget.heightForWidth(widget.width()) if widget.hasHeightForWidth() else 0)
    if widget.width() < hint.width() or widget.height() < need_h:
        return f"{name} squeezed to {widget.width()}x{widget.height()}, needs {hint.width()}x{need_h}"
    parent = widget.parentWidget()
    while parent is not None:  # scroll every enclosing scroll area to it
        if isinstance(parent, QScrollArea):
            parent.ensureWidgetVisible(widget, 0, 0)
        parent = parent.parentWidget()
    parent = widget.parentWidget()
    while parent is not None:
        rect = QRect(widget.mapTo(parent, QPoint(0, 0)), widget.size())
        if not parent.rect().contains(rect):
            return f"{name} at {rect} cut by {type(parent).__name__} {parent.rect()}"
        if parent.isWindow():
            break
        parent = parent.parentWidget()
    return ""


def _side_panel_problems(window) -> list[str]:
    """Every shown label (with text), button, box and bar of the Classes, Model and Propagation panels."""
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLabel, QProgressBar

    kinds = (QLabel, QAbstractButton, QComboBox, QAbstractSpinBox, QProgressBar)
    shown = [x for panel in (window.classes, window.model_panel, window.propagation)
             for x in panel.findChildren(QWidget) if isinstance(x, kinds) and x.isVisible()
             and not (isinstance(x, QLabel) and not x.text())]  # an empty label shows nothing to cut
    return [p for p in (_clipped(x) for x in shown) if p]


@pytest.fixture
def app_theme():
    """The real app's look (Fusion, its style sheet and 9.5 pt font: buttons 28 px high, not the bare
    test app's 22 px), restored afterwards. Without it every panel is smaller than users see it and
    the side panels fit at 1280x800 even with no scroll area at all."""
    from PySide6.QtWidgets import QApplication

    from symnet_gui.platform.style import apply_theme

    app = QApplication.instance()
    saved = (app.style().name(), app.palette(), app.font(), app.styleSheet())
    apply_theme(app, "dark")
    yield
    app.setStyleSheet(saved[3])
    app.setStyle(saved[0])
    app.setPalette(saved[1])
    app.setFont(saved[2])


def test_side_panels_are_not_clipped_at_1280x800(qtbot, make_window, folder, fake_config, app_theme):
    import threading

    from symnet_gui.services.backend import FactoryBackend
    from tests.gui.fakes import FakePredictor

    class HeldBackend(FactoryBackend):  # the model stays "loading" until the test lets it go
        gate = threading.Event()

        def load(self, spec):
            assert self.gate.wait(20), "never released"
            return super().load(spec)

    held = HeldBackend(lambda t, base: FakePredictor(fake_config, t, base))
    w = make_window(held, folder, model=False)
    w.resize(1280, 781)  # maximized on a 1280x800 screen under a window manager's title bar (openbox: 19 px)
    try:
        paint_support(qtbot, w)
        w.class_ops.rename_class(w.document.classes[0].id, "violet-yellow checkered blob")  # the demo's class
        w.load_checkpoint(str(folder / "demo.pth"), "demo model (synthetic scenes)")  # the state that overflowed
        w.adaptation._running_row.show()  # adapting, with its progress line
        w.adaptation.progress_label.setText("step 12 / 60 · 0.41 s/step · ETA about 25 s")
        w.adaptation.progress_label.show()
        w.propagation.progress_label.setText("12 / 40 · 0.53 s/image · ETA about 1 min")
        w.propagation.summary_label.setText("40 predicted · 3 low confidence · 0 failed")
        qtbot.wait(400)  # (the supports line refreshes 200 ms after a change)
        assert "Loading demo model" in w.model_panel.state_label.text()
        shown = [w.adaptation.cancel_button, w.adaptation.progress, w.propagation.start_button,
                 w.model_panel.open_button]
        assert all(x.isVisible() for x in shown)
        problems = _side_panel_problems(w)
    finally:
        held.gate.set()
    qtbot.waitUntil(lambda: w.service.model_info is not None, timeout=10000)
    assert not problems, "\n".join(problems)


def test_default_window_fits_a_screen_smaller_than_its_default_size(qtbot, tmp_path):
    """1440x900 on a 1280x800 screen put the right-hand panels past the screen's edge (seen under
    Xvfb + openbox); on a screen too small for it the first window opens maximized instead."""
    from symnet_gui.main_window import MainWindow
    from symnet_gui.platform.settings import AppSettings

    w = MainWindow(AppSettings(path=tmp_path / "settings.yaml"))
    qtbot.addWidget(w)
    room = w.screen().availableGeometry()
    assert room.width() < 1440 or room.height() < 940, "the test screen must be smaller than the default size"
    w.show()
    qtbot.waitExposed(w)
    def fits() -> None:
        assert w.isMaximized() and room.contains(w.frameGeometry()), f"{w.frameGeometry()} past {room}"

    qtbot.waitUntil(fits, timeout=2000)  # (the offscreen platform maximizes a moment after showing)
    w.close()


def test_rgba_image_is_shown_on_the_neutral_background(qtbot, make_window, tmp_path):
    import numpy as np
    from PIL import Image

    from symnet_core.io.images import TRANSPARENT_BACKGROUND

    root = tmp_path / "cutouts"
    root.mkdir()
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[:, 30:] = (20, 200, 20, 255)
    Image.fromarray(rgba, "RGBA").save(root / "cut.png")
    w = make_window(folder=root)
    image = w.document.current_image
    left, right = image.pixelColor(5, 5), image.pixelColor(50, 5)
    assert (left.red(), left.green(), left.blue()) == TRANSPARENT_BACKGROUND, "not black"
    assert (right.red(), right.green(), right.blue()) == (20, 200, 20)


def test_light_theme_switch_and_about(qtbot, make_window):
    from PySide6.QtWidgets import QApplication

    from symnet_gui.platform.style import apply_theme, current_theme, theme_color

    w = make_window()
    try:
        w.commands["view.light_theme"].setChecked(True)
        assert current_theme() == "light" and w.settings.theme == "light"
        assert QApplication.palette().window().color().lightness() > 200
        assert theme_color("row").lightness() > 200
        w.commands["view.light_theme"].setChecked(False)
        assert current_theme() == "dark" and QApplication.palette().window().color().lightness() < 80
    finally:
        apply_theme(QApplication.instance(), "dark")
    w.commands["help.about"].trigger()
    text = w.extras.about_box.text()
    assert "symnet-annotate" in text and "License" in text and "Model:" in text and "User guide" in text
    w.extras.about_box.close()
