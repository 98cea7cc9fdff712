"""File → Export report…: the dialog, the export worker, and ``install_export(window)``.

The report itself is Qt-free (``app.core.report``: ``build_rows`` then
``write_report``; format in docs/report-format.md). This module only asks
what to export, runs grading and writing in a worker so the window never
freezes, and shows the summary or the error. Human values come from the
window's store of the folder (the lab server's when Settings → Lab server is
set, else the folder's file): the one the editing integration holds open,
else a read-only one opened in the worker (readers take no lock, ADR 0002).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.core.batch import grade_images
from app.core.pseudonym import IdMapper, MappingError
from app.core.report import build_rows, write_report
from app.core.store import StoreError
from app.core.store_api import open_for_folder
from app.gui.workers import GeneratorWorker, make_pool, start
from app.version import RESEARCH_NOTICE
from model.grading import SCHEMES

INJECTION_NOTE = ("Text cells that start with = + - @ are written with a leading ' so that "
                  "spreadsheets show them as text and never run them as formulas.")


def default_report_path(folder: Path) -> Path:
    return Path(folder) / f"embryograde-report-{datetime.now(timezone.utc):%Y-%m-%d}.csv"


def selected_paths(panel) -> list[Path]:
    """The folder panel's selected images in folder order (the current one if none is selected)."""
    sm = panel.table.selectionModel()
    rows = sorted({panel.proxy.mapToSource(ix).row() for ix in sm.selectedRows()}) if sm else []
    if rows:
        return [panel.model.entries[r].path for r in rows]
    cur = panel.current_path()
    return [cur] if cur is not None else []


@dataclass
class ExportJob:
    folder: Path
    images: list[Path]
    out: Path
    scheme: str
    cache: object
    predictor: object | None
    grade_first: bool
    ids: IdMapper | None = None
    store: object | None = None  # the editing integration's open store, if any
    known_failures: list = field(default_factory=list)  # (rel, message) the list already knows
    wait_saves: object | None = None  # callable: lets pending autosaves land first
    open_store: object | None = None  # callable(folder) -> a read-only store (in the worker)


def export_job(job: ExportJob):
    """Worker generator: yields BatchEvents while grading, then "writing"; returns the summary."""
    failures, images = list(job.known_failures), list(job.images)
    if job.grade_first and job.predictor is not None:
        failed: set[Path] = set()
        gen = grade_images(job.folder, images, job.predictor, job.cache, job.scheme)
        try:
            for ev in gen:
                if ev.kind == "failed":
                    failures.append((ev.rel, ev.error))
                    failed.add(ev.path)
                yield ev
        finally:
            gen.close()  # a cancel closes this generator; the batch stops with it
        images = [p for p in images if p not in failed]
    yield "writing"
    if callable(job.wait_saves):
        job.wait_saves()
    store, opened = job.store, None
    if store is None:
        try:
            opener = job.open_store or (lambda f: open_for_folder(f, readonly=True))
            store = opened = opener(job.folder)
        except FileNotFoundError:
            store = None  # nobody reviewed anything in this folder yet
        except (StoreError, OSError) as exc:
            # Exporting without the corrections would silently report the model's grades.
            raise RuntimeError(f"cannot read the corrections of this folder: {exc}") from exc
    try:
        version = job.predictor.version if job.predictor is not None else ""
        rows = build_rows(job.folder, images, job.cache, store, job.scheme, version,
                          ids=job.ids, failures=failures)
        summary = write_report(job.out, rows, failures)
    finally:
        if opened is not None:
            opened.close()
    summary["path"] = str(job.out)
    return summary


def describe_error(exc: BaseException, out: Path) -> str:
    if isinstance(exc, OSError):
        where = exc.filename or out
        return f"The report could not be written to {where}: {exc.strerror or exc}."
    return f"The report could not be made: {exc}"


def render_result(s: dict) -> str:
    per = ", ".join(f"{g}: {n}" for g, n in s["per_final_grade"].items()) or "none"
    mean, med = s["mean_final_fragment_pct"], s["median_final_fragment_pct"]
    st = s["status"]
    lines = [f"Report written to {s['path']}",
             f"images: {s['rows']} in the report, {s['failed']} failed",
             f"images per final grade ({s['scheme'] or '-'}): {per}",
             "final fragmentation: " + ("-" if mean is None else f"mean {mean:.2f} %, median {med:.2f} %"),
             f"corrected: {st['corrected']}, reviewed: {st['reviewed']}, model only: {st['model']}, "
             f"ungraded: {st['ungraded']}"]
    lines += [f"failed: {p}: {m}" for p, m in s["failures"][:10]]
    if len(s["failures"]) > 10:
        lines.append(f"… and {len(s['failures']) - 10} more (see the summary file)")
    return "\n".join(lines)


class ExportDialog(QDialog):
    """Options, progress and result. ``accept()`` starts the export; the dialog stays open."""

    def __init__(self, exporter: ExportController, parent=None):
        super().__init__(parent)
        self.exporter = exporter
        self.setWindowTitle("Export grade report")
        self.scope_all = QRadioButton(self)
        self.scope_selected = QRadioButton(self)
        self.scheme_combo = QComboBox(self)
        for key, sch in SCHEMES.items():
            self.scheme_combo.addItem(sch.name, key)
        self.out_edit, self.ids_edit = QLineEdit(self), QLineEdit(self)
        self.ids_edit.setPlaceholderText("none: patient id = folder name")
        self.browse_out, self.browse_ids_button = QPushButton("Browse…", self), QPushButton("Browse…", self)
        self.browse_out.clicked.connect(self.browse_output)
        self.browse_ids_button.clicked.connect(self.browse_ids)
        self.grade_first = QRadioButton("grade them first", self)
        self.as_ungraded = QRadioButton("export them as ungraded", self)
        self.ungraded_group = QButtonGroup(self)  # the scope radios have their own group (parent)
        for b in (self.grade_first, self.as_ungraded):
            self.ungraded_group.addButton(b)
        self.grade_first.setChecked(True)

        self.progress = QProgressBar(self)
        self.progress.hide()
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice = QLabel(f"<b>{RESEARCH_NOTICE}.</b> {INJECTION_NOTE}", self)
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: gray;")

        self.buttons = QDialogButtonBox(self)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Images", _box(QVBoxLayout(), self.scope_all, self.scope_selected))
        form.addRow("Scheme", self.scheme_combo)
        form.addRow("Report file", _box(QHBoxLayout(), self.out_edit, self.browse_out))
        form.addRow("Id mapping (optional)", _box(QHBoxLayout(), self.ids_edit, self.browse_ids_button))
        form.addRow("Images not graded yet", _box(QVBoxLayout(), self.grade_first, self.as_ungraded))
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        for w in (self.progress, self.status, self.notice, self.buttons):
            lay.addWidget(w)
        self.resize(620, 0)

    def prepare(self, folder: Path, n_all: int, n_selected: int, selected: bool, scheme: str,
                has_model: bool) -> None:
        if folder != getattr(self, "folder", None):  # keep a path chosen for this folder
            self.out_edit.setText(str(default_report_path(folder)))
        self.folder, self.n_selected = folder, n_selected
        self.scope_all.setText(f"the whole folder ({n_all} images)")
        self.scope_selected.setText(f"the selected images ({n_selected})")
        (self.scope_selected if selected and n_selected else self.scope_all).setChecked(True)
        self.scheme_combo.setCurrentIndex(max(0, self.scheme_combo.findData(scheme)))
        self.has_model = has_model
        self.grade_first.setToolTip("" if has_model else "no model loaded")
        if not has_model:
            self.as_ungraded.setChecked(True)
        self.set_running(False)
        self.show_status("")

    # -- fields -------------------------------------------------------------------------------
    def browse_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the grade report", self.out_edit.text(),
                                              "CSV files (*.csv)")
        if path:
            self.out_edit.setText(path if path.lower().endswith(".csv") else path + ".csv")

    def browse_ids(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pseudonymous id mapping", str(self.folder),
                                              "CSV files (*.csv);;All files (*)")
        if path:
            self.ids_edit.setText(path)

    @property
    def scheme(self) -> str:
        return self.scheme_combo.currentData()

    # -- states -------------------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        for w in (self.scope_all, self.scheme_combo, self.out_edit, self.ids_edit, self.browse_out,
                  self.browse_ids_button, self.as_ungraded, self.export_button):
            w.setEnabled(not running)
        self.scope_selected.setEnabled(not running and self.n_selected > 0)
        self.grade_first.setEnabled(not running and self.has_model)
        self.close_button.setText("Cancel" if running else "Close")
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)

    def show_status(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #a50e0e; font-weight: bold;" if error else "")
        self.status.setText(text)

    def show_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total}")
        self.show_status(text)

    def accept(self) -> None:  # Export: start, keep the dialog open for the result
        self.exporter.start(self)

    def reject(self) -> None:  # Close, or Cancel while running
        if self.exporter.running:
            self.exporter.cancel()
            return
        super().reject()


def _box(layout, *widgets) -> QWidget:
    w = QWidget()
    w.setLayout(layout)
    layout.setContentsMargins(0, 0, 0, 0)
    for x in widgets:
        layout.addWidget(x)
    return w


class ExportController(QObject):
    """Owns the dialog and the worker; receives the worker's signals (it lives as long as the window)."""

    finished = Signal(object)  # the summary dict, with "path"
    failed = Signal(str)  # message shown to the user
    cancelled = Signal()

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.pool = make_pool(1, "export")
        self.worker: GeneratorWorker | None = None
        self.dialog: ExportDialog | None = None
        self._job: ExportJob | None = None
        self._outcome = None
        window.installEventFilter(self)

    @property
    def running(self) -> bool:
        return self.worker is not None

    def open_dialog(self, selected: bool = False) -> ExportDialog | None:
        folder = self.window.controller.folder
        if folder is None:
            self.window.show_message("open a folder first: File → Open folder…")
            return None
        if self.dialog is None:
            self.dialog = ExportDialog(self, self.window)
        if not self.running:
            panel = self.window.folder_panel
            n_sel = len(selected_paths(panel)) if panel.model.entries else 0
            self.dialog.prepare(folder, len(panel.model.entries), n_sel, selected,
                                self.window.grade_panel.scheme, self.window.controller.predictor is not None)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def open_all(self) -> ExportDialog | None:
        return self.open_dialog(selected=False)

    def open_selected(self) -> ExportDialog | None:
        return self.open_dialog(selected=True)

    # -- running ------------------------------------------------------------------------------
    def start(self, dlg: ExportDialog) -> None:
        if self.running:
            return
        win, ctl = self.window, self.window.controller
        folder = ctl.folder
        if ctl.cache is None:
            dlg.show_status("This folder's results cannot be cached (read-only folder?), "
                            "so no report can be made from them.", error=True)
            return
        out_text = dlg.out_edit.text().strip()
        if not out_text:
            dlg.show_status("Choose where to save the report.", error=True)
            return
        out = Path(out_text).expanduser()
        out = out if out.is_absolute() else folder / out
        ids = None
        if dlg.ids_edit.text().strip():
            try:
                ids = IdMapper.from_csv(dlg.ids_edit.text().strip(), folder_name=folder.name)
            except MappingError as exc:
                dlg.show_status(f"The id mapping cannot be used: {exc}", error=True)
                return
        panel = win.folder_panel
        paths = selected_paths(panel) if dlg.scope_selected.isChecked() else [
            e.path for e in panel.model.entries]
        if not paths:
            dlg.show_status("No images to export.", error=True)
            return
        grade_first = dlg.grade_first.isChecked() and ctl.predictor is not None
        known = []
        if not grade_first:  # unreadable images get no row (report format)
            errs = {e.path: e.error for e in panel.model.entries if e.error}
            known = [(p.relative_to(folder).as_posix(), errs[p]) for p in paths if p in errs]
            paths = [p for p in paths if p not in errs]
        editing, lab = getattr(win, "editing", None), getattr(win, "lab_server", None)
        store, wait = getattr(editing, "store", None), None
        if lab is not None:
            store = lab.window_store(folder)
        elif store is not None and Path(store.folder).resolve() != folder:
            store = None  # still the previous folder's: read this one's from disk
        if store is not None and editing is not None:
            editing.saver.save_now()  # the edit waiting for its debounce belongs in the report
            wait = editing.saver.pool.waitForDone
        self._job = ExportJob(folder, paths, out, dlg.scheme, ctl.cache, ctl.predictor, grade_first,
                              ids, store, known, wait, lab.open_readonly if lab is not None else None)
        self._outcome = None
        self.worker = w = GeneratorWorker(export_job, self._job)
        w.signals.yielded.connect(self._on_progress)
        w.signals.returned.connect(self._on_returned)
        w.signals.errored.connect(self._on_errored)
        w.signals.finished.connect(self._on_finished)
        dlg.set_running(True)
        dlg.show_status("grading…" if grade_first else "writing the report…")
        start(w, self.pool)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            if self.dialog is not None:
                self.dialog.show_status("cancelling…")

    def _on_progress(self, ev) -> None:
        dlg = self.dialog
        if isinstance(ev, str):  # "writing"
            dlg.progress.setRange(0, 0)
            dlg.show_status("writing the report…")
            return
        dlg.show_progress(ev.done, ev.total, f"grading: {ev.rel}" + (f" ({ev.kind})" if ev.kind != "graded" else ""))
        if ev.prediction is not None:  # the list shows what the export graded
            entry = self.window.folder_panel.model.entry(ev.path)
            if entry is not None:
                ctl = self.window.controller
                ctl.set_result(entry, ev.sha256, ev.prediction.regrade(ctl.scheme))
                self.window.folder_panel.model.entry_changed(ev.path)

    def _on_returned(self, summary) -> None:
        self._outcome = ("ok", summary)

    def _on_errored(self, exc) -> None:
        self._outcome = ("error", describe_error(exc, self._job.out if self._job else Path()))

    def _on_finished(self) -> None:
        self.worker = None
        dlg, outcome = self.dialog, self._outcome
        dlg.set_running(False)
        if outcome is None:
            dlg.show_status("Cancelled: no report was written. Images graded so far are kept.")
            self.window.show_message("export cancelled")
            self.cancelled.emit()
        elif outcome[0] == "ok":
            dlg.show_status(render_result(outcome[1]))
            self.window.show_message(f"report written: {outcome[1]['path']}")
            self.finished.emit(outcome[1])
        else:
            dlg.show_status(outcome[1], error=True)
            self.window.show_message(f"⚠ {outcome[1]}")
            self.failed.emit(outcome[1])

    def eventFilter(self, obj, ev):  # noqa: N802
        if obj is self.window and ev.type() == QEvent.Type.Close and self.worker is not None:
            self.worker.cancel()  # stops at the next image; one forward pass at most
            self.pool.waitForDone(10_000)
        return False


def install_export(window) -> ExportController:
    """Add File → Export report… (Ctrl+E) and "Export selected…" (menu and folder list)."""
    exp = ExportController(window)
    exp.export_action = QAction("Export report…", window, shortcut=QKeySequence("Ctrl+E"))
    exp.export_action.triggered.connect(exp.open_all)
    exp.export_selected_action = QAction("Export selected…", window)
    exp.export_selected_action.triggered.connect(exp.open_selected)
    file_menu = window.menuBar().actions()[0].menu()
    sep = next((a for a in file_menu.actions() if a.isSeparator()), None)
    file_menu.insertActions(sep, [exp.export_action, exp.export_selected_action])  # None: append
    table = window.folder_panel.table
    # Several rows must be selectable for "Export selected"; the current row still drives the view.
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    table.addAction(exp.export_selected_action)
    window.export = exp
    return exp
