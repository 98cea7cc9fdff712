"""Mask editing in the review window: ``install_editing(window)`` wires it all in one call.

Kept out of ``main_window.py`` so the window stays a layout: this module adds
the editing toolbar, the correction panel (under the grade panel), File menu
entries (Save corrections, Change annotator) and connects the review
controller's signals to the editors, the annotation store and the autosaver.

Per image: the editor starts from the newest stored corrected mask, else the
model's mask; its undo history survives moving to other images and back
(``EditorManager``). The folder list shows "reviewed" / "corrected" from the
store when a folder opens and after every save.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QMessageBox

from app.core.corrections import ImageContext
from app.core.label_edit import EditorManager
from app.core.store import AnnotationStore, StoreError
from app.gui.annotator import Annotator
from app.gui.autosave import AutoSaver
from app.gui.correction_panel import CorrectionPanel
from app.gui.edit_toolbar import EditToolbar
from app.gui.edit_tools import EditController

log = logging.getLogger(__name__)

# The folder list knows reviewed / corrected; a hand-set grade is a correction of the grade.
LIST_STATUS = {"reviewed": "reviewed", "corrected": "corrected", "grade-only": "corrected"}


class EditingIntegration(QObject):
    def __init__(self, window, confirm=None):
        super().__init__(window)
        self.window = w = window
        self.review = w.controller
        self.view = w.view
        self.store: AnnotationStore | None = None
        self._store_folder: Path | None = None
        self._statuses: dict[str, str] = {}  # path relative to the folder -> store status
        self.ctx: ImageContext | None = None
        self.confirm = confirm or self._confirm_discard

        self.editors = EditorManager()
        self.edit = EditController(self.view, self)
        self.toolbar = EditToolbar(self.edit, w)
        w.addToolBar(self.toolbar)
        self.panel = CorrectionPanel(w)
        lay = w.right.layout()
        lay.insertWidget(1, self.panel)
        self.annotator = Annotator(w, w.settings.qs)
        self.saver = AutoSaver(None, self.annotator, parent=self)
        self.saver.watch(self.edit)
        w.addAction(self.saver.save_action)
        file_menu = w.menuBar().actions()[0].menu()
        first = file_menu.actions()[0] if file_menu.actions() else None
        file_menu.insertAction(first, self.saver.save_action)
        self.change_annotator_action = file_menu.addAction("Change annotator…")
        self.change_annotator_action.triggered.connect(self.annotator.change)

        self.review.review_status = self._status_of_entry
        self.review.image_shown.connect(self._on_image_shown)
        self.review.prediction_shown.connect(self._on_prediction_shown)
        w.grade_panel.scheme_changed.connect(self._on_scheme)
        self.edit.stats_changed.connect(self._on_stats)
        self.panel.accept_requested.connect(self.accept_model)
        self.panel.grade_requested.connect(self.saver.save_grade_only)
        self.panel.save_requested.connect(self.saver.save_now)
        self.saver.state_changed.connect(self.panel.set_save_state)
        self.saver.saved.connect(self._on_saved)
        self.saver.failed.connect(lambda _sha, msg: w.show_message(f"⚠ {msg}"))
        self.panel.set_scheme(w.grade_panel.scheme)
        w.installEventFilter(self)

    # -- store ---------------------------------------------------------------------------------
    def _ensure_store(self, folder: Path | None) -> AnnotationStore | None:
        if folder is None or folder == self._store_folder:
            return self.store
        self.saver.set_store(None)
        if self.store is not None:
            self.store.close()
        self.store, self._store_folder, self._statuses = None, folder, {}
        try:
            self.store = AnnotationStore.for_folder(folder)
        except (StoreError, OSError) as exc:
            # Another window has this folder open, or it is read-only: review without saving.
            self.window.show_message(f"⚠ corrections will not be saved: {exc}")
            return None
        if self.store.recovery_message():
            self.window.show_message(self.store.recovery_message())
        for rev in self.store.current_all(masks=False).values():
            self._statuses[rev.path] = rev.status
        self.saver.set_store(self.store)
        return self.store

    def _rel(self, path) -> str:
        try:
            return Path(path).resolve().relative_to(self._store_folder).as_posix()
        except (ValueError, TypeError):
            return Path(path).name

    def _status_of_entry(self, entry) -> str | None:
        # Called by the review controller while it lists a freshly opened folder.
        self._ensure_store(self.review.folder)
        return LIST_STATUS.get(self._statuses.get(self._rel(entry.path)))

    # -- following the current image -----------------------------------------------------------
    def _on_image_shown(self, path) -> None:
        if self.ctx is not None and Path(self.ctx.path) == Path(path):
            return
        self.edit.set_editor(None)
        self.saver.set_current(None, None)
        self.ctx = None
        self.panel.set_model(None, None)
        self.panel.set_stats(None)
        self.panel.set_review_status(None)

    def _on_prediction_shown(self, path) -> None:
        pred = self.review.current_prediction
        entry = self.window.folder_panel.model.entry(path)
        if pred is None or entry is None or entry.sha256 is None:
            return
        store = self._ensure_store(self.review.folder)
        rev = None
        if store is not None:
            try:
                rev = store.current(entry.sha256)
            except StoreError as exc:
                self.window.show_message(f"⚠ cannot read the saved correction: {exc}")
        stored = rev.mask if rev is not None and rev.status == "corrected" else None
        start = stored if stored is not None and stored.shape == pred.class_mask.shape else pred.class_mask
        editor = self.editors.open(entry.sha256, start, pred.class_mask, self.review.scheme)
        self.ctx = ImageContext(entry.sha256, str(Path(path).resolve()), pred.class_mask,
                                pred.model_version, pred.fraction_mask, self.review.scheme,
                                self.view.image)
        self.saver.set_current(self.ctx, editor, stored)
        self.edit.set_editor(editor)
        self.panel.set_model(pred.fraction_mask, pred.grade)
        self.panel.set_stats(editor.stats)
        if rev is not None:
            who = f"{rev.annotator}, {rev.time_utc[:16].replace('T', ' ')} UTC"
            self.panel.set_review_status(rev.status, who)

    def _on_scheme(self, scheme: str) -> None:
        self.panel.set_scheme(scheme)
        ed = self.edit.editor
        if ed is not None:
            ed.scheme = scheme
        if self.ctx is not None:
            self.ctx.scheme = scheme

    def _on_stats(self, stats) -> None:
        self.panel.set_stats(stats)
        pred = self.review.current_prediction
        # No mask comparison here: this runs on every brush segment and must stay O(box).
        if pred is not None and self.edit.editor is not None and self.edit.editor.version:
            self.window.grade_panel.set_values(pred, {"fragment_pct_mask": stats.percent,
                                                      "grade": stats.grade or "—"})

    # -- decisions -----------------------------------------------------------------------------
    def accept_model(self) -> None:
        ed = self.edit.editor
        if ed is not None and ed.differs_from_model():
            if not self.confirm():
                return
            self.edit.reset_to_model()
        if self.saver.accept_model() and ed is not None:
            ed.mark_saved()  # the accepted model mask is what is stored now
            self.saver.timer.stop()

    def _confirm_discard(self) -> bool:
        answer = QMessageBox.question(
            self.window, "Accept the model's result",
            "Your corrections of this image will be replaced by the model's mask "
            "(Undo brings them back). Accept the model's result?")
        return answer == QMessageBox.StandardButton.Yes

    def _on_saved(self, sha: str, _seq: int, status: str) -> None:
        path = Path(self.ctx.path) if self.ctx is not None and self.ctx.sha256 == sha else None
        if path is None:
            for e in self.window.folder_panel.model.entries:
                if e.sha256 == sha:
                    path = e.path
                    break
        if path is None:
            return
        self._statuses[self._rel(path)] = status
        entry = self.window.folder_panel.model.entry(path)
        if entry is not None:
            entry.review_status = LIST_STATUS.get(status)
            self.window.folder_panel.model.entry_changed(path)
        if self.ctx is not None and self.ctx.sha256 == sha:
            self.panel.set_review_status(status, "saved")
        self.window.show_message(f"saved: {status}")

    # -- closing -------------------------------------------------------------------------------
    def eventFilter(self, obj, ev):  # noqa: N802
        if obj is self.window and ev.type() == QEvent.Type.Close:
            self.close()
        return False

    def close(self) -> None:
        """Land every pending save, then release the store (window closing)."""
        if not self.saver.flush(30_000):
            log.warning("autosave did not finish within 30 s")
        if self.store is not None:
            self.store.close()
            self.store = None
            self._store_folder = None


def install_editing(window, confirm=None) -> EditingIntegration:
    """Add mask editing, corrections and autosave to a ``MainWindow``; returns the wiring."""
    window.editing = EditingIntegration(window, confirm)
    return window.editing
