"""The review-queue dock: the folder's images, most uncertain first; a click selects the image."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.review_queue import QueueItem, review_order


def _label(it: QueueItem) -> str:
    if not it.graded:
        return f"not graded · {it.path.name}"
    flags = "".join((" ⚑" if it.disagreement else "", " ≈" if it.borderline else ""))
    done = f" · {it.review_status}" if it.review_status else ""
    return f"±{it.uncertainty:.1f} pts · grade {it.grade}{flags}{done} · {it.path.name}"


def _order_job(paths, cache, version, store):
    """Runs in a worker thread: hashes come from the cache index, results from the disk cache.
    ``store``: the window's open store of the folder, or a callable opening a read-only one."""
    opened = None
    if callable(store):
        try:
            store = opened = store()
        except Exception:  # nothing saved yet, damaged, server unreachable: order without review status
            store = None
    try:
        return review_order(paths, cache, version, store)
    finally:
        if opened is not None:
            opened.close()


class ReviewQueuePanel(QDockWidget):
    path_selected = Signal(object)  # Path

    def __init__(self, parent=None):
        super().__init__("Review queue", parent)
        self.setObjectName("review_queue_dock")
        body = QWidget(self)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        self.summary = QLabel("open a folder and grade it", body)
        self.summary.setWordWrap(True)
        self.list = QListWidget(body)
        self.refresh_button = QPushButton("Refresh", body)
        lay.addWidget(self.summary)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.refresh_button)
        self.setWidget(body)
        self.items: list[QueueItem] = []
        self.source = None  # callable -> (paths, cache, model_version, store or its opener) or None
        self._worker = None
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)
        self.refresh_button.clicked.connect(self.refresh)

    def refresh(self) -> None:
        from app.gui.workers import GeneratorWorker, start

        src = self.source() if self.source is not None else None
        if src is None:
            self.set_items([])
            return
        if self._worker is not None:
            self._worker.cancel()
        w = GeneratorWorker(_order_job, *src)
        w.signals.returned.connect(lambda items, w=w: w is self._worker and self.set_items(items))
        w.signals.errored.connect(lambda exc: self.summary.setText(f"⚠ cannot order the queue: {exc}"))
        self._worker = w
        self.summary.setText("ordering…")
        start(w)

    def set_items(self, items: list[QueueItem]) -> None:
        self.items = list(items)
        self.list.clear()
        for it in self.items:
            li = QListWidgetItem(_label(it))
            li.setData(Qt.ItemDataRole.UserRole, str(it.path))
            if not it.graded or it.review_status:
                li.setForeground(Qt.GlobalColor.gray)
            self.list.addItem(li)
        graded = sum(it.graded for it in self.items)
        todo = sum(it.graded and not it.review_status for it in self.items)
        self.summary.setText(f"{todo} to review (most uncertain first), {graded} graded, "
                             f"{len(self.items) - graded} not graded yet")

    def _clicked(self, item: QListWidgetItem) -> None:
        self.path_selected.emit(Path(item.data(Qt.ItemDataRole.UserRole)))
