"""Mask editing in the review window: ``install_editing(window)`` wires it all in one call.

Kept out of ``main_window.py`` so the window stays a layout: this module adds
the editing toolbar, the correction panel (under the grade panel), File menu
entries (Save corrections, Change annotator) and connects the review
controller's signals to the per-image states, the annotation store and the
autosaver.

One ``ImageState`` per (folder, image sha) is the single source of what the
view, the correction panel, the grade panel's corrected column, the folder
list and the store say (``app/core/image_state.py``). The state is bound only
once the view shows that image's pixels and the model's result; moving to
another image unbinds it first, so no action can reach an image that is not
the one shown. Its undo history survives moving away and back
(``EditorManager``, keyed like the states).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QMessageBox

from app.core.corrections import ImageContext
from app.core.image_state import SHOWN_STATUS, ImageState, from_store, state_key
from app.core.label_edit import EditorManager
from app.core.review_summary import ReviewIndex, ReviewSummary, of_state
from app.core.store import StoreError
from app.core.store_api import NotLoaded, Store, open_for_folder
from app.gui.annotator import Annotator, stored_name
from app.gui.autosave import AutoSaver
from app.gui.correction_panel import CorrectionPanel
from app.gui.edit_toolbar import EditToolbar
from app.gui.edit_tools import NAVIGATE, EditController

log = logging.getLogger(__name__)


class EditingIntegration(QObject):
    def __init__(self, window, confirm=None):
        super().__init__(window)
        self.window = w = window
        self.review = w.controller
        self.view = w.view
        self.store: Store | None = None
        self._store_folder: Path | None = None
        self._closed = False  # the window closed: no store is opened again until it is shown
        self._reviews = ReviewIndex()  # the list's line of each image of the store's folder
        self.state: ImageState | None = None  # the image being corrected (bound), or None
        self._states: dict[str, ImageState] = {}
        self._fetching: set = set()  # workers reading a saved correction from the lab server
        self._unfetchable: dict[str, str] = {}  # sha -> why the lab server could not give it
        self.confirm = confirm or self._confirm_discard

        self.editors = EditorManager()
        self.edit = EditController(self.view, self)
        if confirm is not None:  # an injected answer (tests, scripts) also answers "fill that much?"
            self.edit.confirm_fill = lambda _share: confirm()
        self.toolbar = EditToolbar(self.edit, w)
        w.addToolBar(self.toolbar)
        self.panel = CorrectionPanel(w)
        lay = w.right.layout()
        lay.insertWidget(1, self.panel)
        self.annotator = Annotator(w, w.settings.qs)
        # The saver only reads the name; asking is done before the first edit, never by a timer.
        self.saver = AutoSaver(None, lambda: stored_name(w.settings.qs), parent=self)
        self.saver.watch(self.edit)
        w.addAction(self.saver.save_action)
        file_menu = w.menuBar().actions()[0].menu()
        first = file_menu.actions()[0] if file_menu.actions() else None
        file_menu.insertAction(first, self.saver.save_action)
        self.change_annotator_action = file_menu.addAction("Change annotator…")
        self.change_annotator_action.triggered.connect(self.annotator.change)

        self.review.review_status = self._status_of_entry
        self.review.navigated.connect(self._unbind)
        self.review.image_failed.connect(self._on_image_failed)
        self.review.prediction_shown.connect(self._on_prediction_shown)
        w.grade_panel.scheme_changed.connect(self._on_scheme)
        self.edit.stats_changed.connect(self._on_stats)
        # The status line follows each finished gesture, not only the save 1.5 s later (or
        # never, when saving fails): once per gesture, so the whole-mask compare is affordable.
        self.edit.committed.connect(self._show_state)
        self.edit.tool_changed.connect(self._on_tool)
        self.panel.accept_requested.connect(self.accept_model)
        self.panel.grade_requested.connect(self.set_grade)
        self.panel.save_requested.connect(self.saver.save_now)
        self.saver.state_changed.connect(self.panel.set_save_state)
        self.saver.saved.connect(self._on_saved)
        self.saver.failed.connect(lambda _sha, msg: w.show_message(f"⚠ {msg}"))
        self.panel.set_scheme(w.grade_panel.scheme)
        w.installEventFilter(self)

    @property
    def ctx(self) -> ImageContext | None:
        return None if self.state is None else self.state.ctx

    # -- store ---------------------------------------------------------------------------------
    def _ensure_store(self, folder: Path | None) -> Store | None:
        if folder is None or folder == self._store_folder:
            return self.store
        if self._closed:
            # A result or cached row arriving after the window closed must not open the store
            # again: its lock would keep the next window from saving to this folder.
            return None
        self.saver.set_store(None)
        if self.store is not None:
            self.store.close()
        self.store, self._store_folder, self._reviews = None, folder, ReviewIndex()
        try:
            lab = getattr(self.window, "lab_server", None)  # Settings → Lab server (app/gui/lab_server.py)
            self.store = lab.open_store(folder) if lab is not None else open_for_folder(folder)
        except (StoreError, OSError) as exc:
            # Another window has this folder open, or it is read-only: review without saving.
            self.window.show_message(f"⚠ corrections will not be saved: {exc}")
            return None
        if self.store.recovery_message():
            self.window.show_message(self.store.recovery_message())
        self._reviews = ReviewIndex(self.store.current_all(masks=False).values())
        self.saver.set_store(self.store)
        return self.store

    def reopen_store(self) -> bool:
        """Settings → Lab server changed: the open folder's store is opened anew. Edits waiting
        for their save land first in the store they were made against (a worker waits for the
        saves, never this thread); what a server did not take stays in its journal. False when
        no folder is open."""
        from app.gui.workers import GeneratorWorker, start

        folder = self._store_folder
        if folder is None:
            return False
        self.saver.save_now()
        w = GeneratorWorker(self.saver.pool.waitForDone, 30_000)
        w.signals.finished.connect(lambda: (self._fetching.discard(w), self._switch_store(folder)))
        self._fetching.add(w)
        start(w)
        return True

    def _switch_store(self, folder: Path) -> None:
        if folder != self._store_folder:
            return  # another folder was opened meanwhile: it has the new store already
        old = self.store
        # Saves a lab server has not taken yet; a folder file's journal is on disk already.
        pending = getattr(old, "journal_size", 0) if hasattr(old, "status_message") else 0
        self._store_folder = None  # _ensure_store opens it again
        store = self._ensure_store(folder)
        # Every image's facts come from the new store: states made against the old one go.
        for key in list(self._states):
            self.editors.drop(key)
        self._states = {}
        model = self.window.folder_panel.model
        for e in model.entries:
            e.set_review(self._review_of(e))
            model.entry_changed(e.path)
        self._unbind()
        if self.review.current is not None:
            self._on_prediction_shown(self.review.current)
        if store is None:
            return  # _ensure_store said why nothing will be saved
        kept = (f"; {pending} correction(s) for {old.path} stay on this workstation until it is "
                "reachable and chosen again") if pending else ""
        self.window.show_message(f"this folder's corrections now go to {store.path}{kept}")

    def _rel(self, path) -> str:
        try:
            return Path(path).resolve().relative_to(self._store_folder).as_posix()
        except (ValueError, TypeError):
            return Path(path).name

    def note_review(self, sha: str, path, summary: ReviewSummary | None) -> None:
        """The lab server's newer review of ``sha`` (another workstation's save): the list's
        line when the folder is listed again or a copy's hash becomes known, as after a save here."""
        self._reviews.note(sha, self._rel(path), summary)

    def _review_of(self, entry) -> ReviewSummary | None:
        return self._reviews.of(entry.sha256, self._rel(entry.path))

    def _status_of_entry(self, entry) -> ReviewSummary | None:
        # Called by the review controller while it lists a freshly opened folder and whenever
        # a row's hash becomes known: a copy of a reviewed image is reviewed too.
        self._ensure_store(self.review.folder)
        return self._review_of(entry)

    # -- following the current image -----------------------------------------------------------
    def _unbind(self, _path=None) -> None:
        """Another image is current: save this one's facts, then let nothing act on it."""
        self.saver.set_current(None)
        self.edit.set_editor(None)
        self.state = None
        self.panel.new_image()
        self.window.grade_panel.set_corrected(None)

    def _on_image_failed(self, path, reason: str) -> None:
        if Path(path) == Path(self.review.current or ""):
            self._unbind()
            self.panel.set_unavailable(reason)

    def _on_prediction_shown(self, path) -> None:
        pred = self.review.current_prediction
        entry = self.window.folder_panel.model.entry(path)
        if pred is None or entry is None or entry.sha256 is None or path != self.review.current:
            return
        if self.review.shown_path != path or self.view.image is None:
            return  # never bind an image's state to another image's pixels
        folder = self.review.folder
        store = self._ensure_store(folder)
        key = state_key(folder, entry.sha256)
        ctx = ImageContext(entry.sha256, str(Path(path).resolve()), pred.class_mask, pred.model_version,
                           pred.fraction_mask, self.review.scheme, self.view.image)
        state = self._states.get(key)
        if state is None or key not in self.editors or state.ctx.model_version != ctx.model_version:
            rev = None
            if store is not None:
                try:
                    rev = store.current_nowait(entry.sha256)
                except NotLoaded:
                    if entry.sha256 not in self._unfetchable:
                        self._fetch_then_bind(store, entry.sha256, path)
                        return  # shown, not editable until the saved correction is here
                    self.window.show_message("⚠ cannot read the saved correction: "
                                             f"{self._unfetchable.pop(entry.sha256)}")
                except StoreError as exc:
                    self.window.show_message(f"⚠ cannot read the saved correction: {exc}")
            self.editors.drop(key)
            state = from_store(folder, ctx, rev, lambda start: self.editors.open(
                key, start, pred.class_mask, self.review.scheme))
            self._states[key] = state
            # A state lives as long as its editor (evicted only when saved): the store has the rest.
            self._states = {k: v for k, v in self._states.items() if k in self.editors}
        else:
            self.editors.get(key)  # most recently used
            state.ctx = ctx
        self.state = state
        self.saver.set_current(state)
        self.edit.set_editor(state.editor)
        self.panel.set_model(pred.fraction_mask, pred.grade)
        self._show_state()

    def _fetch_then_bind(self, store, sha: str, path) -> None:
        """The lab server has a correction of this image that came without its masks: fetch it in
        a worker (the GUI thread never waits on the network), then bind if it is still shown."""
        from app.gui.workers import GeneratorWorker, start

        self.panel.set_review_status("loading the saved correction from the lab server…", "")
        w = GeneratorWorker(store.current, sha)

        def failed(exc) -> None:
            self._unfetchable[sha] = str(exc)

        def done() -> None:
            self._fetching.discard(w)
            if store is self.store and path == self.review.current:
                self._on_prediction_shown(path)

        w.signals.errored.connect(failed)
        w.signals.finished.connect(done)
        self._fetching.add(w)
        start(w)

    def _show_state(self) -> None:
        st = self.state
        if st is None:
            return
        self._on_stats(st.editor.stats)
        note = st.stored_note if st.stored is not None else ""
        self.panel.set_review_status(st.describe(), note)

    def _on_scheme(self, scheme: str) -> None:
        self.panel.set_scheme(scheme)
        if self.state is not None:
            self.state.editor.scheme = scheme
            self.state.ctx.scheme = scheme
            self._show_state()

    def _on_stats(self, stats) -> None:
        st = self.state
        if st is None:
            return
        ov = st.override
        self.panel.set_stats(stats, ov.grade if ov is not None else None, by_hand=ov is not None)
        # No mask comparison here: this runs on every brush segment and must stay O(box).
        if st.editor.version or st.stored is not None or ov is not None:
            self.window.grade_panel.set_corrected({"fragment_pct_mask": stats.percent,
                                                   "grade": st.final_grade() or "—"})

    def _on_tool(self, tool: str) -> None:
        # Ask who edits before the first edit: a question fired later by the autosave timer
        # would pop up mid-stroke and swallow clicks.
        if tool != NAVIGATE and not stored_name(self.window.settings.qs) and not self.annotator():
            self.window.show_message("⚠ editing needs the annotator's name")
            self.edit.set_tool(NAVIGATE)
            self.toolbar.tool_actions[NAVIGATE].setChecked(True)

    # -- decisions -----------------------------------------------------------------------------
    def accept_model(self) -> None:
        st = self.state
        if st is None or not self.annotator():
            return
        if st.painted():
            if not self.confirm():
                return
            self.edit.reset_to_model()
        self.saver.accept_model()
        self._show_state()

    def set_grade(self, grade: str, reason: str, text: str = "") -> None:
        if self.state is None or not self.annotator():
            return
        self.saver.set_grade(grade, reason, text)
        self._show_state()

    def _confirm_discard(self) -> bool:
        answer = QMessageBox.question(
            self.window, "Accept the model's result",
            "Your corrections of this image will be replaced by the model's mask "
            "(Undo brings them back). Accept the model's result?")
        return answer == QMessageBox.StandardButton.Yes

    def _on_saved(self, sha: str, _seq: int, status: str) -> None:
        folder = self._store_folder
        st = self._states.get(state_key(folder, sha)) if folder is not None else None
        if st is None:
            return
        summary = of_state(st, stored_name(self.window.settings.qs) or "")
        self._reviews.note(sha, self._rel(st.path), summary)
        shown = SHOWN_STATUS.get(status)
        model = self.window.folder_panel.model
        for e in model.entries:
            # Byte-identical copies in this folder share the store record. A row whose hash is
            # not known yet (a copy never graded, a folder listed again while this save was in
            # flight) is matched by its path here, and by its hash once known (ReviewController).
            if self._reviews.sha_of(e.sha256, self._rel(e.path)) == sha:
                e.set_review(summary)
                model.entry_changed(e.path)
        if st is self.state:
            self._show_state()
        self.window.show_message(f"saved: {shown or 'correction withdrawn'}")

    # -- closing -------------------------------------------------------------------------------
    def eventFilter(self, obj, ev):  # noqa: N802
        if obj is self.window and ev.type() == QEvent.Type.Close:
            self.close()
        elif obj is self.window and ev.type() == QEvent.Type.Show:
            self._closed = False  # shown again: the store opens on demand
        return False

    def close(self) -> None:
        """Land every pending save, then release the store (window closing)."""
        self._closed = True
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
