"""Every command of the app, in one declarative table: id, text, shortcuts, menu, handler.

The table is data: menus, the toolbar, the keyboard-shortcut help dialog and the tests all read
it. A handler is ``"<target>.<method>"``; the window supplies the targets (``window``, ``doc``,
``canvas``, ``review``, ``images``, ``classes``, ``propagation``, ``adaptation``). ``args`` are
passed to the method; checkable actions pass their new checked state instead.

Shortcuts can be overridden in the user settings (``shortcuts: {id: "Ctrl+K"}``; ``""``
unbinds). :func:`shortcut_conflicts` finds duplicates (a test keeps the defaults unique).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenuBar, QWidget

log = logging.getLogger(__name__)

__all__ = ["ACTIONS", "MENUS", "ActionSpec", "build_actions", "build_menus", "effective_shortcuts",
           "shortcut_conflicts"]


@dataclass(frozen=True)
class ActionSpec:
    """One command.

    Attributes:
        id: stable identifier (settings overrides and tests use it).
        text: menu text (``&`` marks the mnemonic).
        menu: menu title it appears in ("" = no menu; still has its shortcut).
        handler: ``"target.method"``.
        shortcuts: default key sequences, first one shown in menus.
        args: positional arguments for the handler.
        tip: status/tool tip.
        checkable: toggles; the handler receives the checked state.
        group: exclusive group name (e.g. the tools).
        checked: initial state of a checkable action.
        separator_before: draw a menu separator above it.
    """

    id: str
    text: str
    menu: str
    handler: str
    shortcuts: tuple[str, ...] = ()
    args: tuple[object, ...] = ()
    tip: str = ""
    checkable: bool = False
    group: str = ""
    checked: bool = False
    separator_before: bool = False


MENUS: tuple[str, ...] = ("&File", "&Edit", "&Tools", "&View", "&Review", "&Model", "&Help")

ACTIONS: tuple[ActionSpec, ...] = (
    # File
    ActionSpec("file.open", "&Open folder…", "&File", "window.open_folder_dialog", ("Ctrl+O",),
               tip="Open a folder of images (its project is created or resumed beside the images)"),
    ActionSpec("file.open_read_only", "Open folder &read-only…", "&File", "window.open_read_only_dialog",
               tip="Look at a project that is open in another window or on another machine"),
    ActionSpec("file.demo", "Open the &demo", "&File", "window.start_demo",
               tip="Generate the synthetic demo folder and load the demo model"),
    ActionSpec("file.save", "&Save now", "&File", "window.save_now", ("Ctrl+S",), separator_before=True,
               tip="Masks are saved automatically; this writes everything immediately"),
    ActionSpec("file.export", "&Export…", "&File", "window.show_export", ("Ctrl+E",),
               tip="COCO JSON (validated) and PNG label masks"),
    ActionSpec("file.quit", "&Quit", "&File", "window.close", ("Ctrl+Q",), separator_before=True),
    # Edit
    ActionSpec("edit.undo", "&Undo", "&Edit", "window.undo", ("Ctrl+Z",)),
    ActionSpec("edit.redo", "&Redo", "&Edit", "window.redo", ("Ctrl+Shift+Z", "Ctrl+Y")),
    ActionSpec("edit.fill_holes", "&Fill holes", "&Edit", "mask.fill_holes", ("F",), separator_before=True,
               tip="Fill background enclosed by the current class"),
    ActionSpec("edit.clear", "&Clear mask", "&Edit", "mask.clear_mask", ("Shift+Del",),
               tip="Remove every painted pixel of this image (undoable)"),
    ActionSpec("edit.add_class", "&New class…", "&Edit", "classes.add_class_interactive", ("Ctrl+Shift+N",),
               separator_before=True),
    # Tools
    ActionSpec("tool.brush", "&Brush", "&Tools", "canvas.set_tool", ("B",), ("brush",), checkable=True,
               group="tool", checked=True, tip="Paint the current class (right button erases)"),
    ActionSpec("tool.eraser", "&Eraser", "&Tools", "canvas.set_tool", ("E",), ("eraser",), checkable=True,
               group="tool", tip="Erase to background"),
    ActionSpec("tool.polygon", "&Polygon", "&Tools", "canvas.set_tool", ("P",), ("polygon",), checkable=True,
               group="tool", tip="Click points; double-click or Enter fills; hold Shift to erase instead; Esc cancels"),
    ActionSpec("tool.bigger", "Bigger brush", "&Tools", "canvas.grow_brush", ("]",), separator_before=True),
    ActionSpec("tool.smaller", "Smaller brush", "&Tools", "canvas.shrink_brush", ("[",)),
    *(ActionSpec(f"class.{i}", f"Class {i}", "&Tools", "class_ops.select_class_index", (str(i),), (i - 1,),
                 separator_before=i == 1, tip=f"Paint with the class listed {i}.")
      for i in range(1, 10)),
    # View
    ActionSpec("view.zoom_in", "Zoom &in", "&View", "canvas.zoom_in", ("Ctrl+=", "Ctrl++")),
    ActionSpec("view.zoom_out", "Zoom &out", "&View", "canvas.zoom_out", ("Ctrl+-",)),
    ActionSpec("view.fit", "&Fit to window", "&View", "canvas.zoom_fit", ("Ctrl+0",)),
    ActionSpec("view.actual", "&Actual pixels (1:1)", "&View", "canvas.zoom_actual", ("Ctrl+1",)),
    ActionSpec("view.overlay", "Show &masks", "&View", "window.set_overlay_visible", ("O",), checkable=True,
               checked=True, separator_before=True),
    ActionSpec("view.opacity_up", "Masks more opaque", "&View", "window.change_opacity", (".",), (+1,)),
    ActionSpec("view.opacity_down", "Masks more transparent", "&View", "window.change_opacity", (",",), (-1,)),
    ActionSpec("view.uncertainty", "Show &uncertainty", "&View", "window.set_uncertainty_visible", ("U",),
               checkable=True, tip="Where the model is unsure about the current image (needs a model and supports)"),
    ActionSpec("view.grid", "Thumbnail &grid", "&View", "images.set_grid_mode", ("G",), checkable=True,
               separator_before=True, tip="Review many images at once"),
    ActionSpec("view.search", "Find image…", "&View", "images.focus_search", ("Ctrl+F",)),
    ActionSpec("view.light_theme", "&Light theme", "&View", "extras.set_light_theme", checkable=True,
               separator_before=True, tip="Light or dark chrome (the first start follows the desktop setting)"),
    # Review
    ActionSpec("review.accept_next", "&Accept and next", "&Review", "review.accept_and_next", ("Return", "Enter"),
               tip="Accept this mask and go to the next image to review"),
    ActionSpec("review.reject_next", "&Reject and next", "&Review", "review.reject_and_next", ("R",)),
    ActionSpec("review.support", "Use as &support", "&Review", "review.toggle_support", ("S",),
               tip="Mark or unmark this image as a support for propagation"),
    ActionSpec("review.next_unreviewed", "&Next to review", "&Review", "review.next_unreviewed", ("N",),
               separator_before=True),
    ActionSpec("review.prev_unreviewed", "Previous to review", "&Review", "review.previous_unreviewed",
               ("Shift+N",)),
    ActionSpec("review.next_suggested", "Next s&uggested image", "&Review", "suggest.next_suggested", ("J",),
               tip="Jump to the image to paint next: the one the model is least sure of (rejected predictions "
                   "first), ranked after a propagation"),
    ActionSpec("review.next", "Next image", "&Review", "review.next_image", ("D", "PgDown")),
    ActionSpec("review.prev", "Previous image", "&Review", "review.previous_image", ("A", "PgUp")),
    # Model
    ActionSpec("model.manage", "&Models…", "&Model", "window.show_models_dialog", ("Ctrl+Shift+M",),
               tip="Download, add, verify and choose models; the choice is remembered for this folder"),
    ActionSpec("model.open", "&Open checkpoint…", "&Model", "window.open_checkpoint_dialog", ("Ctrl+Shift+O",)),
    ActionSpec("model.propagate", "&Propagate", "&Model", "propagation.start", ("Ctrl+R",), separator_before=True,
               tip="Predict masks for the images in the chosen scope"),
    ActionSpec("model.predict_current", "Predict &this image", "&Model", "propagation.predict_current",
               ("Shift+P",)),
    ActionSpec("model.cancel", "&Cancel propagation / adaptation", "&Model", "window.cancel_running_job",
               ("Ctrl+.",), tip="Stop the running propagation (after the image in flight) or adaptation"),
    ActionSpec("model.adapt", "&Adapt to supports…", "&Model", "adaptation.start", ("Ctrl+Shift+A",),
               separator_before=True,
               tip="Fine-tune the model head on the current class's supports; propagation then uses it"),
    ActionSpec("model.reset_head", "&Reset adapted head", "&Model", "adaptation.reset",
               tip="Delete the current class's adapted head: back to the checkpoint's head"),
    # Help
    ActionSpec("help.shortcuts", "&Keyboard shortcuts", "&Help", "window.show_help", ("F1",)),
    ActionSpec("help.messages", "&Messages…", "&Help", "window.show_messages"),
    ActionSpec("help.log", "Open &log folder", "&Help", "window.open_log_folder"),
    ActionSpec("help.docs", "User &guide", "&Help", "extras.open_docs", separator_before=True,
               tip="docs/gui.md: the workflow, every panel and shortcut"),
    ActionSpec("help.about", "&About symnet-annotate", "&Help", "extras.show_about",
               tip="Version, the model in use, licences"),
)


def effective_shortcuts(spec: ActionSpec, overrides: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The spec's shortcuts after a settings override (``""`` unbinds; ``"A, B"`` gives two)."""
    if overrides and spec.id in overrides:
        value = overrides[spec.id].strip()
        return tuple(s.strip() for s in value.split(",") if s.strip()) if value else ()
    return spec.shortcuts


def _normal(seq: str) -> str:
    return QKeySequence(seq).toString(QKeySequence.SequenceFormat.PortableText)


def shortcut_conflicts(specs: Iterable[ActionSpec] = ACTIONS,
                       overrides: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """``{normalised key: [action ids]}`` for keys bound to more than one action."""
    seen: dict[str, list[str]] = {}
    for spec in specs:
        for seq in effective_shortcuts(spec, overrides):
            seen.setdefault(_normal(seq), []).append(spec.id)
    return {k: v for k, v in seen.items() if len(v) > 1}


def _resolve(spec: ActionSpec, targets: Mapping[str, object]) -> Callable[..., object]:
    target_name, _, method = spec.handler.partition(".")
    target = targets.get(target_name)
    fn = getattr(target, method, None) if target is not None else None
    if not callable(fn):
        raise AttributeError(f"action {spec.id}: handler {spec.handler!r} not found")
    return fn


def build_actions(parent: QWidget, targets: Mapping[str, object],
                  overrides: Mapping[str, str] | None = None) -> dict[str, QAction]:
    """Create a ``QAction`` per spec, connected to its handler and added to ``parent``.

    Conflicting overrides are reported in the log and the later action loses the key.
    """
    actions: dict[str, QAction] = {}
    groups: dict[str, QActionGroup] = {}
    taken: set[str] = set()
    for spec in ACTIONS:
        action = QAction(spec.text, parent)
        action.setObjectName(spec.id)
        keys = []
        for seq in effective_shortcuts(spec, overrides):
            norm = _normal(seq)
            if norm in taken:
                log.warning("shortcut %s of %s is already taken; ignored", seq, spec.id)
                continue
            taken.add(norm)
            keys.append(QKeySequence(seq))
        action.setShortcuts(keys)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        tip = spec.tip or spec.text.replace("&", "")
        if keys:
            tip += f"  ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})"
        action.setToolTip(tip)
        action.setStatusTip(spec.tip)
        fn = _resolve(spec, targets)
        if spec.checkable:
            action.setCheckable(True)
            action.setChecked(spec.checked)
            if spec.group:
                group = groups.setdefault(spec.group, QActionGroup(parent))
                group.setExclusive(True)
                group.addAction(action)
                action.triggered.connect(lambda _c=False, f=fn, a=spec.args: f(*a))
            else:
                action.toggled.connect(lambda checked, f=fn: f(checked))
        else:
            action.triggered.connect(lambda _c=False, f=fn, a=spec.args: f(*a))
        parent.addAction(action)
        actions[spec.id] = action
    return actions


def build_menus(menubar: QMenuBar, actions: Mapping[str, QAction]) -> None:
    """Fill the menu bar from the table, in table order."""
    menus = {title: menubar.addMenu(title) for title in MENUS}
    for spec in ACTIONS:
        if not spec.menu:
            continue
        menu = menus[spec.menu]
        if spec.separator_before and not menu.isEmpty():
            menu.addSeparator()
        menu.addAction(actions[spec.id])
