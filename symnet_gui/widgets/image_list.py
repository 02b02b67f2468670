"""The image list model (one row per image), its filter/sort proxy and the item delegate.

The model reads records from the document (frozen ``ImageRecord`` s) and never decodes an image
itself: thumbnails come from :class:`~symnet_gui.widgets.thumbnails.ThumbnailCache`, requested
only for rows that are painted, so a 100 000-image folder costs one small record per row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from symnet_core.project import ImageRecord, ImageStatus
from symnet_gui.document.document import AnnotationDocument
from symnet_gui.platform.style import status_style, theme_color
from symnet_gui.widgets.thumbnails import ThumbnailCache

__all__ = ["ImageDelegate", "ImageFilterProxy", "ImageListModel", "Roles"]

Index = QModelIndex | QPersistentModelIndex


class Roles:
    KEY = Qt.ItemDataRole.UserRole + 1
    RECORD = Qt.ItemDataRole.UserRole + 2
    STATUS = Qt.ItemDataRole.UserRole + 3
    CONFIDENCE = Qt.ItemDataRole.UserRole + 4
    THUMB = Qt.ItemDataRole.UserRole + 5
    ORDER = Qt.ItemDataRole.UserRole + 6


_STATUS_ORDER = {s: i for i, s in enumerate((ImageStatus.PREDICTED, ImageStatus.REJECTED, ImageStatus.UNLABELLED,
                                             ImageStatus.EDITED, ImageStatus.SUPPORT, ImageStatus.ACCEPTED))}


class ImageListModel(QAbstractListModel):
    """Rows = images of the project in natural order."""

    def __init__(self, document: AnnotationDocument, thumbs: ThumbnailCache) -> None:
        super().__init__(document)
        self._doc = document
        self._thumbs = thumbs
        self._records: list[ImageRecord] = []
        self._row: dict[str, int] = {}
        document.project_changed.connect(self.reload)
        document.records_changed.connect(self._on_records_changed)
        document.classes_changed.connect(self._on_classes_changed)
        thumbs.ready.connect(self._on_thumb)

    @Slot()
    def reload(self) -> None:
        self.beginResetModel()
        self._records = self._doc.records()
        self._row = {r.path: i for i, r in enumerate(self._records)}
        self._thumbs.set_project(self._doc.project)
        self.endResetModel()

    @Slot()
    def _on_classes_changed(self) -> None:
        self._thumbs.set_colors({c.id: c.color for c in self._doc.classes})
        if self._records:
            self.dataChanged.emit(self.index(0), self.index(len(self._records) - 1), [Roles.THUMB])

    @Slot(object)
    def _on_records_changed(self, keys: tuple[str, ...]) -> None:
        if self._doc.project is None:
            return
        if not keys:
            self._records = self._doc.records()
            self._row = {r.path: i for i, r in enumerate(self._records)}
            if self._records:
                self.dataChanged.emit(self.index(0), self.index(len(self._records) - 1))
            return
        for key in keys:
            row = self._row.get(key)
            if row is None:
                continue
            self._records[row] = self._doc.record(key)
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    @Slot(str)
    def _on_thumb(self, key: str) -> None:
        row = self._row.get(key)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Roles.THUMB])

    def record_at(self, row: int) -> ImageRecord:
        return self._records[row]

    def row_of(self, key: str) -> int | None:
        return self._row.get(key)

    def status_counts(self) -> dict[ImageStatus, int]:
        counts = dict.fromkeys(ImageStatus, 0)
        for r in self._records:
            counts[r.status] += 1
        return counts

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(self._records)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        rec = self._records[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return PurePosixPath(rec.path).name
        if role == Roles.KEY:
            return rec.path
        if role == Roles.RECORD:
            return rec
        if role == Roles.STATUS:
            return rec.status.value
        if role == Roles.CONFIDENCE:
            return rec.confidence
        if role == Roles.ORDER:
            return index.row()
        if role == Roles.THUMB:
            return self._thumbs.get(rec)
        if role == Qt.ItemDataRole.ToolTipRole:
            st = status_style(rec.status)
            lines = [rec.path, f"{st.glyph} {st.label} — {st.help}"]
            if rec.confidence is not None:
                lines.append(f"confidence {rec.confidence:.2f}")
            if rec.size:
                lines.append(f"{rec.width} × {rec.height} px")
            if rec.error:
                lines.append(f"problem: {rec.error}")
            return "\n".join(lines)
        return None


class ImageFilterProxy(QSortFilterProxyModel):
    """Filter by status set, maximum confidence and name; sort by name, confidence, status or
    suggestion (the ranks :meth:`set_suggested_ranks` got: ranked images first, then the rest by name).

    The *pinned* key (the image on the canvas) passes the status and confidence filters: a status
    filter never hides the current image (the name filter still applies — the user typed it).
    """

    SORTS = ("name", "confidence_low", "confidence_high", "status", "suggested")

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)
        self._statuses: frozenset[str] | None = None
        self._max_conf: float | None = None
        self._text = ""
        self._sort = "name"
        self._pinned: str | None = None
        self._ranks: dict[str, int] = {}
        self.setDynamicSortFilter(True)
        self.sort(0)

    def _refilter(self, change: Callable[[], None]) -> None:
        # Qt >= 6.9 wants begin/endFilterChange around the change; older Qt invalidateRowsFilter.
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange()
        else:
            change()
            self.invalidateRowsFilter()

    def set_statuses(self, statuses: frozenset[str] | None) -> None:
        self._refilter(lambda: setattr(self, "_statuses", statuses))

    def set_max_confidence(self, value: float | None) -> None:
        self._refilter(lambda: setattr(self, "_max_conf", value))

    def set_text(self, text: str) -> None:
        self._refilter(lambda: setattr(self, "_text", text.strip().casefold()))

    def set_pinned(self, key: str | None) -> None:
        if key != self._pinned:
            self._refilter(lambda: setattr(self, "_pinned", key))

    def hidden_by(self) -> tuple[int, int]:
        """``(by status/confidence, by name)``: how many images the filters hide now."""
        model = self.sourceModel()
        by_status = by_name = 0
        for row in range(model.rowCount()):
            rec: ImageRecord = model.record_at(row)  # type: ignore[attr-defined]
            if not self._name_ok(rec):
                by_name += 1
            elif not self._status_ok(rec):
                by_status += 1
        return by_status, by_name

    def _status_ok(self, rec: ImageRecord) -> bool:
        if rec.path == self._pinned:
            return True
        if self._statuses is not None and rec.status.value not in self._statuses:
            return False
        return self._max_conf is None or (rec.confidence is not None and rec.confidence <= self._max_conf)

    def _name_ok(self, rec: ImageRecord) -> bool:
        return not self._text or self._text in rec.path.casefold()

    def set_sort(self, mode: str) -> None:
        if mode not in self.SORTS:
            raise ValueError(f"sort must be one of {self.SORTS}")
        self._sort = mode
        self.invalidate()
        self.sort(0)

    def set_suggested_ranks(self, ranks: dict[str, int]) -> None:
        """``{key: position}`` of the "which image next" ranking (keys absent: not candidates)."""
        self._ranks = dict(ranks)
        if self._sort == "suggested":
            self.invalidate()
            self.sort(0)

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:
        model = self.sourceModel()
        rec: ImageRecord = model.record_at(row)  # type: ignore[attr-defined]
        return self._status_ok(rec) and self._name_ok(rec)

    def lessThan(self, left: Index, right: Index) -> bool:
        a: ImageRecord = left.data(Roles.RECORD)
        b: ImageRecord = right.data(Roles.RECORD)
        ra, rb = left.row(), right.row()
        if self._sort == "name":
            return ra < rb
        if self._sort == "status":
            ka, kb = _STATUS_ORDER[a.status], _STATUS_ORDER[b.status]
            return (ka, ra) < (kb, rb)
        if self._sort == "suggested":
            last = len(self._ranks)
            return (self._ranks.get(a.path, last), ra) < (self._ranks.get(b.path, last), rb)
        # confidence: images without one go last either way
        ca, cb = a.confidence, b.confidence
        if (ca is None) != (cb is None):
            return ca is not None
        if ca is None or cb is None:
            return ra < rb
        if self._sort == "confidence_high":
            ca, cb = -ca, -cb
        return (ca, ra) < (cb, rb)


class ImageDelegate(QStyledItemDelegate):
    """Draws a row (list mode) or a tile (grid mode): thumbnail, status, name, confidence."""

    def __init__(self, thumb_side: int = 112, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = False
        self.side = thumb_side
        self.current_key: str | None = None

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        fm = option.fontMetrics
        if self.grid:
            return QSize(self.side + 12, round(self.side * 0.75) + fm.height() + 18)
        return QSize(220, max(46, fm.height() * 2 + 14))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        rec: ImageRecord = index.data(Roles.RECORD)
        if rec is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        r = option.rect.adjusted(2, 2, -2, -2)
        bg = theme_color("row_selected") if selected else theme_color("row")
        if rec.path == self.current_key:
            bg = theme_color("row_current")
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(bg)
        painter.drawRoundedRect(r, 4, 4)
        st = status_style(rec.status)
        color = QColor(st.color)
        thumb: QImage | None = index.data(Roles.THUMB)
        fm = QFontMetrics(option.font)
        if self.grid:
            box = QRect(r.left() + 4, r.top() + 4, r.width() - 8, r.height() - fm.height() - 14)
            self._draw_thumb(painter, box, thumb)
            painter.setPen(QPen(color, 3))
            painter.drawLine(box.left(), box.bottom() + 3, box.right(), box.bottom() + 3)
            line = QRect(r.left() + 5, box.bottom() + 6, r.width() - 10, fm.height() + 4)
            self._draw_caption(painter, line, rec, st.glyph, color, option.font, fm)
        else:
            h = r.height() - 8
            box = QRect(r.left() + 4, r.top() + 4, round(h * 4 / 3), h)
            self._draw_thumb(painter, box, thumb)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRect(QRect(r.left(), r.top() + 3, 3, r.height() - 6))
            x = box.right() + 8
            name_rect = QRect(x, r.top() + 4, r.right() - x - 4, fm.height())
            painter.setPen(theme_color("text"))
            painter.drawText(name_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                             fm.elidedText(index.data(), Qt.TextElideMode.ElideMiddle, name_rect.width()))
            info = QRect(x, name_rect.bottom() + 3, name_rect.width(), fm.height())
            self._draw_caption(painter, info, rec, st.glyph + " " + st.label, color, option.font, fm, name=False)
        painter.restore()

    def _draw_thumb(self, painter: QPainter, box: QRect, thumb: QImage | None) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme_color("thumb_bg"))
        painter.drawRect(box)
        if thumb is None:
            return
        if thumb.isNull():
            painter.setPen(QColor("#f2545b"))
            fm = painter.fontMetrics()  # a small list thumbnail: the sign only (the tooltip says why)
            text = "unreadable" if fm.horizontalAdvance("unreadable") + 4 <= box.width() else "⚠"
            painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)
            return
        size = thumb.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(box.center())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(target, thumb)

    def _draw_caption(self, painter: QPainter, rect: QRect, rec: ImageRecord, label: str, color: QColor,
                      font: QFont, fm: QFontMetrics, name: bool = True) -> None:
        conf = f"{rec.confidence:.2f}" if rec.confidence is not None else ""
        conf_w = fm.horizontalAdvance(conf) + 4 if conf else 0
        painter.setPen(color)
        glyph_w = fm.horizontalAdvance(label) + 6
        painter.drawText(QRect(rect.left(), rect.top(), glyph_w, rect.height()),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), label)
        if name:
            painter.setPen(theme_color("name"))
            text_rect = QRect(rect.left() + glyph_w, rect.top(), rect.width() - glyph_w - conf_w, rect.height())
            painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                             fm.elidedText(PurePosixPath(rec.path).stem, Qt.TextElideMode.ElideMiddle,
                                           text_rect.width()))
        if conf:
            painter.setPen(_confidence_color(rec.confidence or 0.0))
            painter.drawText(rect, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), conf)


def _confidence_color(value: float) -> QColor:
    if value < 0.4:
        return QColor("#f2797e")
    if value < 0.7:
        return QColor("#f0c45a")
    return QColor("#8fdcb5")
