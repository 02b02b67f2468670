"""The actions table: unique shortcuts, every handler exists, menus and help come from it."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence

from symnet_gui.actions.table import ACTIONS, MENUS, effective_shortcuts, shortcut_conflicts
from symnet_gui.platform.settings import AppSettings
from symnet_gui.widgets.help_dialog import HelpDialog


def test_default_shortcuts_are_unique():
    assert shortcut_conflicts() == {}


def test_ids_unique_and_menus_known():
    ids = [a.id for a in ACTIONS]
    assert len(ids) == len(set(ids))
    assert {a.menu for a in ACTIONS if a.menu} <= set(MENUS)
    for a in ACTIONS:
        for seq in a.shortcuts:
            assert not QKeySequence(seq).isEmpty(), f"{a.id}: bad key {seq!r}"


def test_overrides_rebind_unbind_and_conflicts():
    assert effective_shortcuts(ACTIONS[0], {ACTIONS[0].id: ""}) == ()
    assert effective_shortcuts(ACTIONS[0], {ACTIONS[0].id: "Ctrl+K, F9"}) == ("Ctrl+K", "F9")
    clash = {"tool.eraser": "B"}
    assert shortcut_conflicts(overrides=clash) == {"B": ["tool.brush", "tool.eraser"]}


def test_window_builds_every_action_with_its_shortcut(make_window):
    w = make_window()
    assert set(w.commands) == {a.id for a in ACTIONS}
    for spec in ACTIONS:
        keys = [k.toString(QKeySequence.SequenceFormat.PortableText) for k in w.commands[spec.id].shortcuts()]
        assert keys == [QKeySequence(s).toString(QKeySequence.SequenceFormat.PortableText) for s in spec.shortcuts]
    titles = [m.title() for m in w.menuBar().findChildren(type(w.menuBar().addMenu("x")))]
    assert all(t in titles for t in MENUS)


def test_settings_override_applies_and_conflict_is_ignored(qtbot, tmp_path):
    from symnet_gui.main_window import MainWindow

    settings = AppSettings(path=tmp_path / "s.yaml", shortcuts={"review.support": "Ctrl+K", "tool.eraser": "B"})
    w = MainWindow(settings)
    qtbot.addWidget(w)
    try:
        assert [k.toString() for k in w.commands["review.support"].shortcuts()] == ["Ctrl+K"]
        assert w.commands["tool.eraser"].shortcuts() == [], "B stays with the brush"
    finally:
        w.close()


def test_help_dialog_lists_every_shortcut(make_window):
    w = make_window()
    dlg = HelpDialog(w.commands, w)
    texts = {dlg.table.item(r, 1).text() for r in range(dlg.table.rowCount())}
    for spec in ACTIONS:
        if spec.shortcuts and spec.menu and not spec.id.startswith("class."):
            assert spec.text.replace("&", "") in texts
    assert "Paint with class 1 … 9" in texts


def test_settings_roundtrip_and_bad_values(tmp_path):
    path = tmp_path / "settings.yaml"
    s = AppSettings(path=path, brush_size=40, shortcuts={"file.open": "Ctrl+Shift+K"})
    s.add_recent("/a")
    s.add_recent("/b")
    s.add_recent("/a")
    assert s.save()
    loaded = AppSettings.load(path)
    assert loaded.brush_size == 40 and loaded.recent_folders == ["/a", "/b"]
    assert loaded.shortcuts == {"file.open": "Ctrl+Shift+K"}
    path.write_text("brush_size: huge\noverlay_opacity: 7\n: [\n", encoding="utf-8")
    assert AppSettings.load(path).brush_size == AppSettings().brush_size
    path.write_text("brush_size: huge\noverlay_opacity: 7\n", encoding="utf-8")
    bad = AppSettings.load(path)
    assert bad.brush_size == AppSettings().brush_size and bad.overlay_opacity == 1.0
