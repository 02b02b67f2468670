"""The image browser: list or thumbnail grid, status/confidence filters, sort, bulk review."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QKeyEvent, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from symnet_core.project import ImageStatus
from symnet_gui.document.document import AnnotationDocument
from symnet_gui.document.ops import StatusOps
from symnet_gui.platform.style import STATUS_STYLES, theme_color
from symnet_gui.widgets.image_list import ImageDelegate, ImageFilterProxy, ImageListModel, Roles
from symnet_gui.widgets.thumbnails import ThumbnailCache

__all__ = ["ImagePanel", "StatusBar"]

# (label, statuses or None for all, max confidence)
_FILTERS: tuple[tuple[str, frozenset[str] | None, float | None], ...] = (
    ("All images", None, None),
    ("To review (predicted)", frozenset({"predicted"}), None),
    ("Low confidence (< 0.5)", frozenset({"predicted"}), 0.5),
    ("Unlabelled", frozenset({"unlabelled"}), None),
    ("Supports", frozenset({"support"}), None),
    ("Accepted", frozenset({"accepted"}), None),
    ("Rejected", frozenset({"rejected"}), None),
    ("Edited", frozenset({"edited"}), None),
    ("Human-verified", frozenset({"support", "accepted", "edited"}), None),
)
_SORTS = (("Name", "name"), ("Lowest confidence first", "confidence_low"),
          ("Highest confidence first", "confidence_high"), ("Status (to review first)", "status"),
          ("Suggested next (J)", "suggested"))


class StatusBar(QWidget):
    """A thin bar split by status counts: how far the review is, at a glance."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts: dict[ImageStatus, int] = {}
        self.setFixedHeight(6)

    def set_counts(self, counts: dict[ImageStatus, int]) -> None:
        self.counts = counts
        self.setToolTip("  ".join(f"{STATUS_STYLES[s].glyph} {STATUS_STYLES[s].label} {n}"
                                  for s, n in counts.items() if n))
        self.update()

    def paintEvent(self, event: object) -> None:
        total = sum(self.counts.values())
        p = QPainter(self)
        p.fillRect(self.rect(), theme_color("thumb_bg"))
        if not total:
            return
        x = 0.0
        order = (ImageStatus.ACCEPTED, ImageStatus.SUPPORT, ImageStatus.EDITED, ImageStatus.PREDICTED,
                 ImageStatus.REJECTED, ImageStatus.UNLABELLED)
        for status in order:
            n = self.counts.get(status, 0)
            if n:
                w = self.width() * n / total
                color = QColor(STATUS_STYLES[status].color)
                p.fillRect(round(x), 0, max(1, round(x + w) - round(x)), self.height(), color)
                x += w


class _ClaimReturn(QObject):
    """Keeps Return/Enter inside a line edit (otherwise "Accept and next" would fire)."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) and event.key() in (
                Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape):
            event.accept()
            return True
        return False


class _UserInput(QObject):
    """``active`` while a mouse press or key press in the list is being handled."""

    _KINDS = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick, QEvent.Type.KeyPress,
              QEvent.Type.MouseMove)

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.active = False

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in self._KINDS and not self.active:
            self.active = True  # the event is delivered after this returns; reset once it is done
            QTimer.singleShot(0, self._reset)
        return False

    def _reset(self) -> None:
        self.active = False


class ImagePanel(QWidget):
    """Lists the project's images; selecting one shows it on the canvas."""

    grid_mode_changed = Signal(bool)
    propagate_selected_requested = Signal()

    def __init__(self, document: AnnotationDocument, status: StatusOps, thumb_side: int = 112,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc = document
        self._status = status
        self.thumbs = ThumbnailCache(thumb_side, self)
        self.model = ImageListModel(document, self.thumbs)
        self.proxy = ImageFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.search = QLineEdit(placeholderText="Filter by name…", clearButtonEnabled=True)
        self._claim = _ClaimReturn(self)
        self.search.installEventFilter(self._claim)
        self.search.textChanged.connect(self.proxy.set_text)
        self.filter_box = QComboBox()
        for label, statuses, conf in _FILTERS:
            self.filter_box.addItem(label, (statuses, conf))
        self.filter_box.currentIndexChanged.connect(self._on_filter)
        self.sort_box = QComboBox()
        for label, mode in _SORTS:
            self.sort_box.addItem(label, mode)
        self.sort_box.currentIndexChanged.connect(lambda _i: self.proxy.set_sort(self.sort_box.currentData()))
        for box in (self.filter_box, self.sort_box):  # long item texts must not widen the dock
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(8)
        self.grid_button = QToolButton(text="▦", checkable=True, toolTip="Thumbnail grid (G)")
        self.grid_button.toggled.connect(self.set_grid_mode)

        self.view = QListView()
        self.delegate = ImageDelegate(thumb_side, self.view)
        self.view.setItemDelegate(self.delegate)
        self.view.setModel(self.proxy)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setUniformItemSizes(True)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.view.clicked.connect(self._show_index)  # also when the clicked row already is current
        self._user_input = _UserInput(self)
        self.view.installEventFilter(self._user_input)
        self.view.viewport().installEventFilter(self._user_input)

        self.status_bar = StatusBar()
        self.count_label = QLabel()
        self.count_label.setProperty("role", "hint")

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search, 1)
        top.addWidget(self.grid_button)
        row2 = QHBoxLayout()
        row2.setContentsMargins(0, 0, 0, 0)
        row2.addWidget(self.filter_box, 3)
        row2.addWidget(self.sort_box, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(5)
        lay.addLayout(top)
        lay.addLayout(row2)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.status_bar)
        lay.addWidget(self.count_label)

        self._count_timer = QTimer(self, singleShot=True, interval=150)
        self._count_timer.timeout.connect(self._update_counts)
        document.records_changed.connect(lambda _k: self._schedule_counts())
        document.project_changed.connect(self._schedule_counts)
        document.image_changed.connect(self._on_image_changed)
        # Rows vanish when a filter stops matching (e.g. "To review" after Accept): the view then
        # moves its current row by itself, which must not change the image being reviewed.
        self._reshaping = 0
        for begin, end in ((self.proxy.rowsAboutToBeRemoved, self.proxy.rowsRemoved),
                           (self.proxy.rowsAboutToBeInserted, self.proxy.rowsInserted),
                           (self.proxy.layoutAboutToBeChanged, self.proxy.layoutChanged),
                           (self.proxy.modelAboutToBeReset, self.proxy.modelReset)):
            begin.connect(self._begin_reshape)
            end.connect(self._end_reshape)
        self._update_counts()

    # --- public API ------------------------------------------------------------------------------

    def ordered_keys(self) -> list[str]:
        """Keys in the order shown (after filter and sort)."""
        return [self.proxy.index(r, 0).data(Roles.KEY) for r in range(self.proxy.rowCount())]

    def all_keys_sorted(self) -> list[str]:
        """Every key in the current sort order, ignoring the filter (review navigation)."""
        keys = self.ordered_keys()
        shown = set(keys)
        return keys + [k for k in self._doc.keys if k not in shown]

    def selected_keys(self) -> list[str]:
        rows = sorted(self.view.selectionModel().selectedRows(), key=lambda i: i.row())
        return [i.data(Roles.KEY) for i in rows]

    def set_grid_mode(self, on: bool) -> None:
        on = bool(on)
        if self.delegate.grid == on:
            return
        self.delegate.grid = on
        self.grid_button.blockSignals(True)
        self.grid_button.setChecked(on)
        self.grid_button.blockSignals(False)
        if on:
            self.view.setViewMode(QListView.ViewMode.IconMode)
            self.view.setResizeMode(QListView.ResizeMode.Adjust)
            self.view.setMovement(QListView.Movement.Static)
            self.view.setSpacing(2)
            self.view.setWrapping(True)
        else:
            self.view.setViewMode(QListView.ViewMode.ListMode)
            self.view.setSpacing(0)
            self.view.setWrapping(False)
        self.view.setGridSize(QSize())
        self.view.doItemsLayout()
        self._scroll_to_current()
        self.grid_mode_changed.emit(on)

    @property
    def grid_mode(self) -> bool:
        return self.delegate.grid

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def set_filter(self, index: int) -> None:
        self.filter_box.setCurrentIndex(index)

    def sort_mode(self) -> str:
        return str(self.sort_box.currentData())

    def set_sort_mode(self, mode: str) -> None:
        """One of :attr:`ImageFilterProxy.SORTS`; ValueError for anything else."""
        index = self.sort_box.findData(mode)
        if index < 0:
            raise ValueError(f"unknown sort {mode!r}")
        self.sort_box.setCurrentIndex(index)

    # --- internals -------------------------------------------------------------------------------

    @Slot(int)
    def _on_filter(self, _index: int) -> None:
        statuses, conf = self.filter_box.currentData()
        self.proxy.set_statuses(statuses)
        self.proxy.set_max_confidence(conf)
        self._scroll_to_current()

    def _schedule_counts(self) -> None:
        # throttle, not debounce: during propagation records change faster than the interval
        if not self._count_timer.isActive():
            self._count_timer.start()

    def _begin_reshape(self, *_args: object) -> None:
        self._reshaping += 1

    def _end_reshape(self, *_args: object) -> None:
        self._reshaping = max(0, self._reshaping - 1)
        if not self._reshaping:
            self._scroll_to_current()
            self._schedule_counts()

    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        # Only the user picks an image here (a click or a key in the list): typing in the filter
        # box or a row leaving the filter never switches the canvas.
        if self._reshaping or not self._user_input.active:
            return
        self._show_index(current)

    @Slot(QModelIndex)
    def _show_index(self, index: QModelIndex) -> None:
        if index.isValid() and (key := index.data(Roles.KEY)) != self._doc.current_key:
            self._doc.select(key)

    @Slot(str)
    def _on_image_changed(self, key: str) -> None:
        self.delegate.current_key = key
        self.proxy.set_pinned(key)
        self._scroll_to_current()
        self.view.viewport().update()

    def _scroll_to_current(self) -> None:
        key = self._doc.current_key
        row = self.model.row_of(key) if key else None
        if row is None:
            return
        idx = self.proxy.mapFromSource(self.model.index(row))
        if not idx.isValid():
            return
        sm = self.view.selectionModel()
        if sm.currentIndex() != idx:
            sm.blockSignals(True)
            sm.setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            sm.blockSignals(False)
            self.view.viewport().update()
        self.view.scrollTo(idx)

    @Slot()
    def _update_counts(self) -> None:
        counts = self.model.status_counts()
        self.status_bar.set_counts(counts)
        total = sum(counts.values())
        shown = self.proxy.rowCount()
        to_review = counts[ImageStatus.PREDICTED]
        verified = counts[ImageStatus.ACCEPTED] + counts[ImageStatus.EDITED] + counts[ImageStatus.SUPPORT]
        text = f"{shown} of {total} shown · {to_review} to review · {verified} verified"
        by_status, by_name = self.proxy.hidden_by()
        hidden = [f"{by_status} hidden by the status filter"] if by_status else []
        hidden += [f"{by_name} hidden by the name filter"] if by_name else []
        self.count_label.setText((text + "".join(f"\n{h}" for h in hidden)) if total else "No images")
        self.count_label.setToolTip("The image on the canvas always stays in the list." if by_status else "")
        for i, (label, statuses, conf) in enumerate(_FILTERS):
            if statuses is None:
                n = total
            elif conf is not None:
                n = sum(1 for r in (self.model.record_at(j) for j in range(self.model.rowCount()))
                        if r.status.value in statuses and r.confidence is not None and r.confidence <= conf)
            else:
                n = sum(counts[ImageStatus(s)] for s in statuses)
            self.filter_box.setItemText(i, f"{label} ({n})")

    def _context_menu(self, pos: object) -> None:
        keys = self.selected_keys()
        if not keys or self._doc.project is None:
            return
        menu = QMenu(self)
        n = len(keys)
        menu.addAction(f"Accept {n} image(s)", lambda: [self._status.accept(k) for k in keys])
        menu.addAction(f"Reject {n} image(s)", lambda: [self._status.reject(k) for k in keys])
        menu.addAction(f"Use {n} image(s) as supports", lambda: [self._status.set_support(True, k) for k in keys])
        menu.addSeparator()
        menu.addAction(f"Propagate to {n} selected image(s)", self.propagate_selected_requested.emit)
        menu.exec(self.view.viewport().mapToGlobal(pos))
