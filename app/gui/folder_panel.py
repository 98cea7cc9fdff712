"""The folder list: a table model over ``Entry`` rows, a sort/filter proxy, lazy thumbnails.

Opening a folder only lists names (``list_images`` never reads pixels);
name parsing happens when a row is first shown; thumbnails are asked for
only by the rows the view paints, made in a background pool and kept in a
bounded cache. So a folder of 10,000 images opens at once.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.imaging import read_image
from app.gui.entries import CORRECTED, ERROR, REVIEWED, STATUS_ORDER, STATUSES, Entry
from app.gui.folder_columns import hours_known, set_up_columns
from app.gui.overlays import display_levels
from app.gui.workers import GeneratorWorker, forget, make_pool, start

COLUMNS = ("name", "embryo/well", "h", "status", "frag %", "grade", "±")
COL_NAME, COL_EMBRYO, COL_HOURS, COL_STATUS, COL_PCT, COL_GRADE, COL_UNC = range(len(COLUMNS))
COLUMN_WIDTHS = {COL_EMBRYO: 90, COL_HOURS: 40, COL_STATUS: 84, COL_PCT: 46, COL_GRADE: 40, COL_UNC: 40}
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
THUMB = 40
_ROOT = QModelIndex()
STATUS_COLOURS = {"graded by model": "#1a73e8", "reviewed": "#188038", "corrected": "#e37400",
                  ERROR: "#d93025"}


def make_thumbnail(path: Path, size: int = THUMB) -> np.ndarray:
    """uint8 gray or RGB thumbnail (runs in a worker thread)."""
    img = read_image(path)
    h, w = img.shape[:2]
    s = size / max(h, w)
    small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    lo, hi = display_levels(small)
    return np.clip((small.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def numpy_to_qimage(a: np.ndarray) -> QImage:
    a = np.ascontiguousarray(a)
    h, w = a.shape[:2]
    if a.ndim == 2:
        return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Grayscale8).copy()
    return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_RGB888).copy()


def _thumb_job(path: Path):
    try:
        return path, make_thumbnail(path)
    except Exception:  # unreadable: the row's status says why; no thumbnail
        return path, None


class ThumbnailCache(QObject):
    ready = Signal(object)  # path

    def __init__(self, parent=None, capacity: int = 3000):
        super().__init__(parent)
        self.pool = make_pool(2, "thumbnails")
        self.capacity = capacity
        self._pix: OrderedDict[Path, QPixmap] = OrderedDict()
        self._asked: set[Path] = set()
        self._pending: dict[Path, GeneratorWorker] = {}

    def get(self, path: Path) -> QPixmap | None:
        pix = self._pix.get(path)
        if pix is not None:
            self._pix.move_to_end(path)
            return pix
        if path not in self._asked:
            self._asked.add(path)
            w = GeneratorWorker(_thumb_job, path)
            w.signals.returned.connect(self._on_ready)
            self._pending[path] = w
            start(w, self.pool)
        return None

    def clear(self) -> None:
        self.pool.clear()
        forget(w for w in self._pending.values() if not w.done.is_set())
        self._pending.clear()
        self._pix.clear()
        self._asked.clear()

    @Slot(object)
    def _on_ready(self, value) -> None:
        path, arr = value
        self._pending.pop(path, None)
        if path not in self._asked or arr is None:
            return  # cleared meanwhile, or unreadable (not asked again)
        self._pix[path] = QPixmap.fromImage(numpy_to_qimage(arr))
        while len(self._pix) > self.capacity:
            old, _ = self._pix.popitem(last=False)
            self._asked.discard(old)
        self.ready.emit(path)


class FolderModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.entries: list[Entry] = []
        self._row: dict[Path, int] = {}
        self.thumbnails = ThumbnailCache(self)
        self.thumbnails.ready.connect(self._on_thumb)

    def set_entries(self, entries: list[Entry]) -> None:
        self.beginResetModel()
        self.thumbnails.clear()
        self.entries = entries
        self._row = {e.path: i for i, e in enumerate(entries)}
        self.endResetModel()

    def entry(self, path: Path) -> Entry | None:
        i = self._row.get(path)
        return None if i is None else self.entries[i]

    def entry_changed(self, path: Path) -> None:
        i = self._row.get(path)
        if i is not None:
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def all_changed(self) -> None:
        if self.entries:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.entries) - 1, len(COLUMNS) - 1))

    @Slot(object)
    def _on_thumb(self, path) -> None:
        i = self._row.get(path)
        if i is not None:
            ix = self.index(i, COL_NAME)
            self.dataChanged.emit(ix, ix, [Qt.ItemDataRole.DecorationRole])

    # -- Qt model API ---------------------------------------------------------------------
    def rowCount(self, parent=_ROOT):  # noqa: N802
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent=_ROOT):  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        e = self.entries[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(e, col)
        if role == SORT_ROLE:
            return _sort_key(e, col)
        if role == Qt.ItemDataRole.DecorationRole and col == COL_NAME:
            return self.thumbnails.get(e.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            if e.error:
                return e.error
            who = f"\n{e.status} by {e.review_by}" if e.review_by and e.status in (REVIEWED, CORRECTED) else ""
            return str(e.path) + who
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_STATUS:
            c = STATUS_COLOURS.get(e.status)
            return QBrush(QColor(c)) if c else None
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_GRADE and (e.borderline or e.disagreement):
            return QBrush(QColor("#e37400"))
        return None


def _display(e: Entry, col: int):
    if col == COL_NAME:
        return e.name
    if col == COL_EMBRYO:
        return e.embryo
    if col == COL_HOURS:
        return "" if e.hours is None else f"{e.hours:.1f}"
    if col == COL_STATUS:  # and who, on the row's second line
        return e.status + (f"\n{e.review_by}" if e.review_by and e.status in (REVIEWED, CORRECTED) else "")
    if col == COL_PCT:  # the final values: a painted mask's, a grade set by hand
        return "" if math.isnan(e.final_pct) else f"{e.final_pct:.1f}"
    if col == COL_GRADE:
        unreviewed = e.status not in (REVIEWED, CORRECTED)
        return e.final_grade + (" ⚑" if e.graded and unreviewed and (e.borderline or e.disagreement) else "")
    if col == COL_UNC:
        return "" if math.isnan(e.uncertainty) else f"{e.uncertainty:.1f}"
    return None


def _num(v) -> float:
    return math.inf if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _sort_key(e: Entry, col: int):
    if col == COL_STATUS:
        return STATUS_ORDER.get(e.status, 99)
    if col == COL_PCT:
        return _num(e.final_pct)
    if col == COL_UNC:
        return _num(e.uncertainty)
    if col == COL_HOURS:
        return _num(e.hours)
    if col == COL_GRADE:
        return e.final_grade or "~"
    return None  # name / embryo: keep the natural order of the listing (row index)


class FolderProxy(QSortFilterProxyModel):
    """Filters by status, grade and minimum uncertainty; sorts numbers as numbers."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.status_filter: str = ""  # "" = all
        self.grade_filter: str = ""
        self.min_uncertainty: float = 0.0
        self.setSortRole(SORT_ROLE)

    def set_filters(self, status: str | None = None, grade: str | None = None,
                    min_uncertainty: float | None = None) -> None:
        self.beginFilterChange()
        if status is not None:
            self.status_filter = status
        if grade is not None:
            self.grade_filter = grade
        if min_uncertainty is not None:
            self.min_uncertainty = float(min_uncertainty)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row, parent):  # noqa: N802
        e = self.sourceModel().entries[row]
        if self.status_filter and e.status != self.status_filter:
            return False
        if self.grade_filter and e.final_grade != self.grade_filter:
            return False
        if self.min_uncertainty > 0 and not (e.uncertainty >= self.min_uncertainty):
            return False
        return True

    def lessThan(self, left, right):  # noqa: N802
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None or type(a) is not type(b):
            return left.row() < right.row()
        return a < b


class FolderPanel(QWidget):
    current_changed = Signal(object)  # Path or None

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = FolderModel(self)
        self.proxy = FolderProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 4)
        self.table.verticalHeader().hide()
        self.table.setIconSize(QSize(THUMB, THUMB))
        set_up_columns(self.table, COLUMNS, COLUMN_WIDTHS, {COL_EMBRYO, COL_HOURS, COL_UNC}, COL_NAME)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.selectionModel().currentRowChanged.connect(self._on_current)

        self.status_combo = QComboBox(self)
        self.status_combo.addItem("all statuses", "")
        for s in STATUSES:
            self.status_combo.addItem(s, s)
        self.grade_combo = QComboBox(self)
        self.unc_spin = QDoubleSpinBox(self)
        self.unc_spin.setRange(0, 100)
        self.unc_spin.setSingleStep(1)
        self.unc_spin.setPrefix("± ≥ ")
        self.unc_spin.setToolTip("show only images at least this uncertain (points)")
        self.status_combo.currentIndexChanged.connect(
            lambda _i: self.proxy.set_filters(status=self.status_combo.currentData()))
        self.grade_combo.currentIndexChanged.connect(
            lambda _i: self.proxy.set_filters(grade=self.grade_combo.currentData() or ""))
        self.unc_spin.valueChanged.connect(lambda v: self.proxy.set_filters(min_uncertainty=v))
        self.count_label = QLabel(self)
        for combo in (self.status_combo, self.grade_combo):
            # Sized to a short word, not to "graded by model": the list column stays compact.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(5)

        filters = QHBoxLayout()
        filters.addWidget(self.status_combo, 1)
        filters.addWidget(self.grade_combo, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(filters)
        lay.addWidget(self.unc_spin)
        lay.addWidget(self.table)
        lay.addWidget(self.count_label)
        self.set_grade_labels(("1", "2", "3"))

    def set_grade_labels(self, labels) -> None:
        self.grade_combo.blockSignals(True)
        self.grade_combo.clear()
        self.grade_combo.addItem("all grades", "")
        for g in labels:
            self.grade_combo.addItem(f"grade {g}", g)
        self.grade_combo.blockSignals(False)
        self.proxy.set_filters(grade="")

    def set_entries(self, entries: list[Entry]) -> None:
        self.model.set_entries(entries)
        self.table.setColumnHidden(COL_HOURS, not hours_known(entries))
        self.count_label.setText(f"{len(entries)} images")
        if entries:
            self.table.selectRow(0)
            self.table.setCurrentIndex(self.proxy.index(0, 0))

    def current_path(self) -> Path | None:
        ix = self.table.currentIndex()
        if not ix.isValid():
            return None
        return self.model.entries[self.proxy.mapToSource(ix).row()].path

    def visible_paths_after(self, path: Path | None, n: int) -> list[Path]:
        """The next ``n`` paths in view order after ``path`` (for prefetch)."""
        ix = self.table.currentIndex()
        start_row = ix.row() + 1 if ix.isValid() else 0
        out = []
        for r in range(start_row, min(self.proxy.rowCount(), start_row + n)):
            out.append(self.model.entries[self.proxy.mapToSource(self.proxy.index(r, 0)).row()].path)
        return out

    def step(self, delta: int) -> None:
        """Move the selection by ``delta`` rows in view order (A/D, ↑/↓)."""
        n = self.proxy.rowCount()
        if n == 0:
            return
        cur = self.table.currentIndex()
        row = 0 if not cur.isValid() else min(max(cur.row() + delta, 0), n - 1)
        ix = self.proxy.index(row, 0)
        self.table.setCurrentIndex(ix)
        self.table.scrollTo(ix)

    def select_path(self, path: Path) -> None:
        i = self.model._row.get(path)
        if i is None:
            return
        ix = self.proxy.mapFromSource(self.model.index(i, 0))
        if ix.isValid():
            self.table.setCurrentIndex(ix)

    def _on_current(self, current, _previous) -> None:
        self.current_changed.emit(self.current_path())
