"""Saving corrections off the GUI thread: debounced after each burst of edits, and on Ctrl+S.

The GUI thread only snapshots (``ImageState.revision`` copies the mask); the
store's ``append`` (compression, fsync, rename) runs in a one-thread pool so
saves land in the order they were made and the window never waits on the
disk. A save that fails leaves the editor "unsaved" and says why; the next
edit or Ctrl+S tries again. A save whose facts the store already holds is
skipped, so painting and undoing back to the stored state records nothing.

The saver never asks for the annotator's name: a dialog fired by the
debounce timer would pop up mid-stroke. The window asks before the first
edit (``EditingIntegration``); without a name a save is refused visibly.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence

from app.core.corrections import check_grade
from app.core.image_state import GradeOverride, ImageState
from app.gui.workers import GeneratorWorker, make_pool, start

DEBOUNCE_MS = 1500
_RETRY = ("save failed",)  # a signature no state has: the next save is never skipped


def _append_job(job: int, store, rev, image):
    # Errors come back as values: one slot on the saver handles every outcome.
    try:
        return job, store.append(rev, image=image), None
    except Exception as exc:  # StoreError, OSError, RevisionError...
        return job, None, f"save failed: {exc}"


class AutoSaver(QObject):
    saved = Signal(str, int, str)  # sha256, store sequence number, status
    failed = Signal(str, str)  # sha256, message for the user
    state_changed = Signal(str)  # one line for the status bar / correction panel

    def __init__(self, store=None, annotator: Callable[[], str | None] = lambda: None,
                 delay_ms: int = DEBOUNCE_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.store = store
        self.annotator = annotator
        self.pool = make_pool(1, "autosave")  # one thread: saves stay in order
        self.state: ImageState | None = None
        self._in_flight = 0
        self._jobs: dict[int, tuple[ImageState, int, tuple | None, tuple | None, str]] = {}
        self._next_job = 0
        self.last_error = ""
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.save_now)
        self.save_action = QAction("Save corrections", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.triggered.connect(self.save_now)

    # -- what is being edited ----------------------------------------------------------------
    def set_store(self, store) -> None:
        self.flush()
        self.store = store

    def set_current(self, state: ImageState | None) -> None:
        """Switch images; unsaved facts of the previous one are saved first, right now."""
        if self.state is not None and self.state is not state:
            self.save_now()
        self.timer.stop()
        self.state = state
        self._emit_state()

    def watch(self, controller) -> None:
        """Debounce on every finished gesture of an EditController."""
        controller.committed.connect(self.schedule)

    # -- saving ------------------------------------------------------------------------------
    def schedule(self) -> None:
        self.timer.start()  # restarts: 1.5 s after the last of a burst of strokes
        self._emit_state()

    def save_now(self) -> bool:
        """Record the current image's facts if the store does not hold them yet; True if a save started."""
        self.timer.stop()
        st = self.state
        if st is None or st.editor.in_stroke:  # never half a stroke; the stroke's end schedules again
            return False
        rev = st.revision()
        if rev is None:
            st.editor.mark_saved()  # back to what is stored: nothing to record
            self._emit_state()
            return False
        return self._submit(rev, st)

    def accept_model(self) -> bool:
        """The model's result is right (the caller has put the model's mask back)."""
        if self.state is None or self.state.ctx.model_mask is None:
            self.state_changed.emit("no model result to accept")
            return False
        self.state.accepted, self.state.override = True, None
        return self.save_now()

    def set_grade(self, grade: str, reason: str, text: str = "") -> bool:
        """A grade set by hand: kept with the mask (painted or the model's) and winning for the final grade."""
        st = self.state
        if st is None:
            return False
        try:
            check_grade(st.ctx.scheme, grade, reason, text)
        except ValueError as exc:
            self.state_changed.emit(str(exc))
            return False
        st.override = GradeOverride(grade, st.ctx.scheme, reason, text.strip())
        return self.save_now()

    def _submit(self, rev, st: ImageState) -> bool:
        if self.store is None:
            self._fail(rev.sha256, "no annotation store is open: open a folder first")
            return False
        name = (self.annotator() or "").strip()
        if not name:
            self._fail(rev.sha256, "saving needs the annotator's name: File → Change annotator…")
            return False
        rev.annotator = name
        previous, sig = st.stored, st.signature()
        st.mark_stored(sig, st.stored_note)  # optimistic: later saves compare with this one
        self._next_job += 1
        self._jobs[self._next_job] = (st, st.editor.version, sig, previous, name)
        w = GeneratorWorker(_append_job, self._next_job, self.store, rev, st.ctx.image)
        # Bound slots of this QObject, not lambdas: a lambda's queued call dies with the
        # worker's signals object, which the shared worker registry may free first.
        w.signals.returned.connect(self._on_returned)
        w.signals.finished.connect(self._finished)
        self._in_flight += 1
        start(w, self.pool)
        self.state_changed.emit("saving…")
        return True

    def _on_returned(self, value) -> None:
        job, seq, error = value
        st, version, sig, _previous, name = self._jobs.pop(job)
        if error is not None:
            if st.stored == sig:
                st.mark_stored(_RETRY)
            self._fail(st.sha256, error)
            return
        st.editor.mark_saved(version)  # edits made meanwhile keep the editor dirty
        if st.stored == sig:
            st.stored_note = f"{name}, saved"
        self.last_error = ""
        self.saved.emit(st.sha256, int(seq), sig[0] if sig is not None else "withdrawn")

    def _fail(self, sha: str, message: str) -> None:
        self.last_error = message
        self.failed.emit(sha, message)
        self.state_changed.emit(f"⚠ {message}")

    def _finished(self) -> None:
        self._in_flight -= 1
        self._emit_state()

    def _emit_state(self) -> None:
        if self._in_flight:
            text = "saving…"
        elif self.state is not None and self.state.editor.dirty:
            text = f"⚠ {self.last_error} (not saved)" if self.last_error else "unsaved changes"
        else:
            text = "all changes saved"
        self.state_changed.emit(text)

    @property
    def busy(self) -> bool:
        return self._in_flight > 0 or self.timer.isActive()

    def flush(self, msecs: int = 30000) -> bool:
        """Save now and wait for every save to land (window closing, folder switching)."""
        self.save_now()
        return self.pool.waitForDone(msecs)
