"""Model → Models…: every registered model, the active one marked; activate, roll back, delete."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.core.registry import Registry, RegistryError

COLUMNS = ("", "version", "status", "parent", "created (UTC)", "images", "frag Dice", "MAE pts", "κ", "reason")


def _fmt(v, spec: str) -> str:
    return "–" if v is None else format(v, spec)


class ModelRegistryDialog(QDialog):
    active_changed = Signal(object)  # Path of the active checkpoint

    def __init__(self, registry: Registry | None = None, parent=None, confirm=None):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(960, 420)
        self.registry = registry or Registry()
        # Tests replace the confirmation box; the default asks the user.
        self.confirm = confirm or (lambda title, text: QMessageBox.question(self, title, text)
                                   == QMessageBox.StandardButton.Yes)
        lay = QVBoxLayout(self)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        lay.addWidget(self.table)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        lay.addWidget(self.message)
        row = QHBoxLayout()
        self.activate_button = QPushButton("Activate", self)
        self.rollback_button = QPushButton("Roll back to parent", self)
        self.delete_button = QPushButton("Delete", self)
        close = QPushButton("Close", self)
        for b in (self.activate_button, self.rollback_button, self.delete_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(close)
        lay.addLayout(row)
        self.activate_button.clicked.connect(self.activate_selected)
        self.rollback_button.clicked.connect(self.rollback)
        self.delete_button.clicked.connect(self.delete_selected)
        close.clicked.connect(self.accept)
        self.refresh()

    def refresh(self) -> None:
        self.entries = self.registry.entries()
        self.active = self.registry.active_version()
        self.table.setRowCount(len(self.entries))
        for r, e in enumerate(self.entries):
            m = e.metrics
            cells = ("●" if e.version == self.active else "", e.version, e.status, e.parent or "–", e.created_utc,
                     _fmt(m.get("n_images"), "d"), _fmt(m.get("fragment_dice"), ".3f"),
                     _fmt(m.get("fraction_mae_pts_mask"), ".2f"), _fmt(m.get("grade_kappa_quadratic"), ".3f"),
                     e.reason)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if e.version == self.active:
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                item.setToolTip(e.reason or e.note)
                item.setData(Qt.ItemDataRole.UserRole, e.version)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        if self.registry.recovery:
            self.message.setText("⚠ " + " ".join(self.registry.recovery))
        self._update_buttons()

    def selected(self):
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.entries[rows[0].row()] if rows else None

    def select_version(self, version: str) -> None:
        for r, e in enumerate(self.entries):
            if e.version == version:
                self.table.selectRow(r)

    def _update_buttons(self) -> None:
        e = self.selected()
        self.activate_button.setEnabled(e is not None and e.version != self.active)
        self.delete_button.setEnabled(e is not None and not e.bundled and e.version != self.active)
        act = next((x for x in self.entries if x.version == self.active), None)
        self.rollback_button.setEnabled(act is not None and not act.bundled)

    def _done(self, text: str) -> None:
        self.message.setText(text)
        self.refresh()
        self.active_changed.emit(self.registry.active_path())

    def _run(self, change, done) -> None:
        """A registry change. With a lab server's recorder it is a round trip (and may be refused):
        then it runs in a worker and the dialog says so meanwhile."""
        if self.registry.recorder is None:
            try:
                result = change()
            except RegistryError as exc:
                self.message.setText(f"⚠ {exc}")
                return
            done(result)
            return
        from app.gui.workers import GeneratorWorker, start

        self.message.setText("recording the change on the lab server…")
        w = GeneratorWorker(change)
        w.signals.returned.connect(done)
        w.signals.errored.connect(lambda exc: self.message.setText(f"⚠ {exc}"))
        self._worker = w
        start(w)

    def activate_selected(self) -> None:
        e = self.selected()
        if e is None:
            return
        force = False
        if e.status == "rejected":
            if not self.confirm("Activate a rejected model?",
                                f"{e.version} was rejected: {e.reason}\n\nActivate it anyway?"):
                return
            force = True
        self._run(lambda: self.registry.activate(e.version, force=force),
                  lambda _e: self._done(f"active model: {e.version}"))

    def rollback(self) -> None:
        self._run(self.registry.rollback,
                  lambda e: self._done(f"rolled back: the active model is now {e.version} ({e.status})"))

    def delete_selected(self) -> None:
        e = self.selected()
        if e is None or not self.confirm("Delete model?", f"Delete {e.version} and its checkpoint file?"):
            return
        try:
            self.registry.delete(e.version)
        except RegistryError as exc:
            self.message.setText(f"⚠ {exc}")
            return
        self.message.setText(f"deleted {e.version}")
        self.refresh()
