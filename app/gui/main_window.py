"""The main window: layout, menus, status bar, drag and drop, settings. Behaviour lives elsewhere.

    ┌ folder panel ┬──── image view ────┬ grade panel      ┐
    │ (FolderPanel)│ (ImageView)        │ overlay controls │
    └──────────────┴────────────────────┴ (scrolls) ───────┘
    status bar: message · progress + Cancel · device · model · queue

Roles: ``ReviewController`` (what happens on navigation and results),
``InferenceQueue`` (model jobs), ``ModelChoice`` (Model menu, loading),
``OverlayControls`` (overlay styles), ``Settings`` (persistence). To extend
the window (e.g. a correction editor) add a widget to ``self.right``'s
layout (window_layout.py: a fixed-width column that scrolls) or a dock, and connect to ``self.controller``'s signals (``prediction_shown``)
and ``self.view`` (see image_view.py for attaching a tool).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
)

from app.gui import gui_gc
from app.gui.folder_panel import FolderPanel
from app.gui.grade_panel import GradePanel
from app.gui.image_view import KEY_STEP, ImageView
from app.gui.inference_queue import InferenceQueue
from app.gui.model_choice import ModelChoice
from app.gui.overlay_controls import OverlayControls
from app.gui.review_controller import ReviewController
from app.gui.review_keys import ReviewKeys
from app.gui.settings import Settings
from app.gui.window_layout import DEFAULT_SIZE, build_layout, fit_screen
from app.version import APP_NAME, RESEARCH_NOTICE, __version__


class HoldToHide(QObject):
    """Application event filter: while Space is held, every overlay is hidden."""

    def __init__(self, view: ImageView, parent=None):
        super().__init__(parent)
        self.view = view

    def eventFilter(self, obj, ev):  # noqa: N802
        t = ev.type()
        if t in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and ev.key() == Qt.Key.Key_Space:
            if ev.isAutoRepeat():
                return True
            w = QApplication.focusWidget()
            if w is not None and w.inherits("QLineEdit") or w is not None and w.inherits("QAbstractSpinBox"):
                return False
            if self.view.window().isActiveWindow() or QApplication.activeWindow() is None:
                self.view.set_overlays_hidden(t == QEvent.Type.KeyPress)
                return True
        return False


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, device: str | None = None,
                 model_path: str | None = None, load_model: bool = True):
        super().__init__()
        gui_gc.install()  # before any of the window's threads: they must never run the collector
        self.settings = settings or Settings()
        self.setWindowTitle(f"{APP_NAME} {__version__} — {RESEARCH_NOTICE}")
        self.setAcceptDrops(True)

        self.folder_panel = FolderPanel(self)
        self.view = ImageView(self)
        self.grade_panel = GradePanel(self)
        self.overlay_controls = OverlayControls(self.view, self.settings, self)
        self.queue = InferenceQueue(self)
        self.controller = ReviewController(self.folder_panel, self.view, self.grade_panel, self.queue, self)
        self.model_choice = ModelChoice(self.settings, self, device=device, model_path=model_path)

        build_layout(self)

        self._build_status_bar()
        self._build_menus()
        self.keys = ReviewKeys(self)
        self.hold_to_hide = HoldToHide(self.view, self)
        QApplication.instance().installEventFilter(self.hold_to_hide)

        self.controller.message.connect(self.show_message)
        self.queue.queue_changed.connect(self._on_queue_changed)
        self.queue.batch_progress.connect(self._on_batch_progress)
        self.queue.batch_finished.connect(self._on_batch_finished)
        self.queue.notice.connect(self.show_message)
        self.model_choice.loading.connect(self.show_message)
        self.model_choice.loaded.connect(self._on_model_loaded)
        self.model_choice.failed.connect(self._on_model_failed)
        self.controller.folder_opened.connect(self._on_folder_opened)
        self.view.cursor_moved.connect(self._on_cursor)

        self.grade_panel.set_scheme(self.settings.scheme())
        self.grade_panel.scheme_changed.connect(self.settings.set_scheme)
        self.controller.set_scheme(self.grade_panel.scheme)
        geo = self.settings.geometry()
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(*fit_screen(DEFAULT_SIZE))
        self._update_model_label()
        if load_model:
            self.model_choice.load()

    # -- building -------------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.progress = QProgressBar(self)
        self.progress.setMaximumWidth(180)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_grading)
        self.pixel_label = QLabel(self)
        self.device_label = QLabel(self)
        self.model_label = QLabel(self)
        self.queue_label = QLabel("queue 0", self)
        for w in (self.progress, self.cancel_button, self.pixel_label, self.device_label,
                  self.model_label, self.queue_label):
            sb.addPermanentWidget(w)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        a = QAction("Open folder…", self, shortcut=QKeySequence.StandardKey.Open)
        a.triggered.connect(self.ask_folder)
        file_menu.addAction(a)
        self.recent_menu = file_menu.addMenu("Recent folders")
        self._fill_recent()
        file_menu.addSeparator()
        q = QAction("Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        q.triggered.connect(self.close)
        file_menu.addAction(q)

        self.view_menu = view_menu = mb.addMenu("&View")
        for text, keys, slot in (("Zoom to embryo", ("Z",), self.view.zoom_to_embryo),
                                 ("Whole frame", ("F",), self.view.fit),
                                 ("Zoom in", ("+", "="), lambda: self.view.zoom(KEY_STEP)),
                                 ("Zoom out", ("-",), lambda: self.view.zoom(1 / KEY_STEP)),
                                 ("1:1 (one image pixel per screen pixel)", ("Ctrl+1",), self.view.one_to_one),
                                 ("Auto levels", ("L",), self.view.auto_levels)):
            act = QAction(text, self)
            act.setShortcuts([QKeySequence(k) for k in keys])
            act.triggered.connect(slot)
            view_menu.addAction(act)
        view_menu.addSeparator()
        view_menu.addAction(self.folder_list_action)

        mb.addMenu(self.model_choice.menu)
        grade_menu = mb.addMenu("&Grade")
        self.grade_all_action = QAction("Grade all", self, shortcut=QKeySequence("Ctrl+G"))
        self.grade_all_action.triggered.connect(self.grade_all)
        self.cancel_action = QAction("Cancel grading", self, shortcut=QKeySequence("Esc"))
        self.cancel_action.triggered.connect(self.cancel_grading)
        grade_menu.addAction(self.grade_all_action)
        grade_menu.addAction(self.cancel_action)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_folders()
        for f in recent:
            act = QAction(f, self.recent_menu)
            act.triggered.connect(lambda _c=False, f=f: self.open_folder(f))
            self.recent_menu.addAction(act)
        self.recent_menu.setEnabled(bool(recent))

    # -- actions --------------------------------------------------------------------------
    def open_folder(self, folder) -> bool:
        try:
            self.controller.open_folder(folder)
        except (OSError, FileNotFoundError) as exc:
            self.show_message(f"⚠ cannot open {folder}: {exc}")
            return False
        return True

    def ask_folder(self) -> None:
        start = self.settings.last_folder() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of embryo images", start)
        if folder:
            self.open_folder(folder)

    def grade_all(self) -> None:
        if self.controller.predictor is None:
            self.show_message("no model loaded: choose one in the Model menu")
            return
        n = self.controller.grade_all()
        self.show_message(f"grading {n} images…" if n else "every image is graded")

    def cancel_grading(self) -> None:
        self.queue.cancel_batch()

    @Slot(str)
    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 15000 if text.startswith("⚠") else 6000)

    # -- events ---------------------------------------------------------------------------
    def _on_folder_opened(self, folder: Path) -> None:
        self.settings.add_recent_folder(str(folder))
        self._fill_recent()
        self.setWindowTitle(f"{folder.name} — {APP_NAME} {__version__} — {RESEARCH_NOTICE}")

    def _on_model_loaded(self, predictor) -> None:
        self.controller.set_predictor(predictor)
        self.grade_panel.set_model_problem(None)
        self._update_model_label()
        self.show_message(f"model {predictor.version} ready on {predictor.device}")
        for n in predictor.notices:
            self.show_message(n)

    def _on_model_failed(self, msg: str) -> None:
        self.controller.set_predictor(None)
        self._update_model_label(error=msg)
        self.show_message(f"⚠ {msg}")
        self.grade_panel.set_model_problem(msg)

    def _update_model_label(self, error: str | None = None) -> None:
        p = self.controller.predictor
        if p is None:
            self.model_label.setText("<b style='color:#d93025'>no model</b>")
            self.model_label.setToolTip(error or "no model loaded")
            self.device_label.setText(f"device {self.model_choice.device}")
        else:
            self.model_label.setText(f"model {p.version}")
            self.model_label.setToolTip(str(self.model_choice.checkpoint))
            self.device_label.setText(f"device {p.device}")

    def _on_queue_changed(self, n: int) -> None:
        self.queue_label.setText(f"queue {n}")

    def _on_batch_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total}")
        self.progress.show()
        self.cancel_button.show()

    def _on_batch_finished(self, cancelled: bool) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.show_message("grading cancelled" if cancelled else "grading finished")

    def _on_cursor(self, x: int, y: int) -> None:
        img = self.view.image
        if img is not None:
            self.pixel_label.setText(f"x {x} y {y} = {img[y, x].tolist()}")

    def dragEnterEvent(self, ev):  # noqa: N802
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev):  # noqa: N802
        for url in ev.mimeData().urls():
            p = Path(url.toLocalFile())
            if p.is_dir():
                self.open_folder(p)
                return
            if p.is_file():  # a file: open its folder and select it
                if self.open_folder(p.parent):
                    self.folder_panel.select_path(p.resolve())
                return

    def closeEvent(self, ev):  # noqa: N802
        self.settings.set_geometry(self.saveGeometry())
        self.settings.sync()
        QApplication.instance().removeEventFilter(self.hold_to_hide)
        self.queue.cancel_all()
        self.queue.wait_idle(3000)
        if self.controller.cache is not None:
            self.controller.cache.flush()
        super().closeEvent(ev)
