"""Saving corrections off the GUI thread: debounced after each burst of edits, and on Ctrl+S.

The GUI thread only snapshots (copies the mask, builds the Revision); the
store's ``append`` (compression, fsync, rename) runs in a one-thread pool so
saves land in the order they were made and the window never waits on the
disk. A save that fails leaves the editor "unsaved" and says why; the next
edit or Ctrl+S tries again. Saves of an image are skipped when its mask is
back to what was last stored, so painting and undoing everything leaves no
revision behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence

from app.core.corrections import ImageContext, accept_revision, grade_only_revision, mask_revision
from app.core.label_edit import LabelEditor
from app.gui.workers import GeneratorWorker, make_pool, start

DEBOUNCE_MS = 1500


def mask_digest(mask: np.ndarray | None) -> str | None:
    return None if mask is None else hashlib.blake2b(np.ascontiguousarray(mask), digest_size=16).hexdigest()


def _append_job(job: int, store, rev, image, digest: str | None, skip_if: str | None):
    # Errors come back as values: one slot on the saver handles every outcome.
    if digest is not None and digest == skip_if:
        return job, None, None  # unchanged since the last stored state: nothing to record
    try:
        return job, (store.append(rev, image=image), rev.status, digest), None
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
        self.ctx: ImageContext | None = None
        self.editor: LabelEditor | None = None
        self._stored_digest: dict[str, str | None] = {}  # sha -> digest of the last stored mask
        self._in_flight = 0
        self._jobs: dict[int, tuple[str, LabelEditor | None, int | None]] = {}
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
        self._stored_digest.clear()

    def set_current(self, ctx: ImageContext | None, editor: LabelEditor | None,
                    stored_mask: np.ndarray | None = None) -> None:
        """Switch images; unsaved edits of the previous one are saved first, right now.

        ``stored_mask`` is the mask the store already holds for this image
        (None: nothing stored yet, so the model's mask is the baseline).
        """
        if self.editor is not None and self.editor.dirty:
            self.save_now()
        self.timer.stop()
        self.ctx, self.editor = ctx, editor
        if ctx is not None and ctx.sha256 not in self._stored_digest:
            base = stored_mask if stored_mask is not None else ctx.model_mask
            self._stored_digest[ctx.sha256] = mask_digest(base)
        self._emit_state()

    def watch(self, controller) -> None:
        """Debounce on every finished gesture of an EditController."""
        controller.committed.connect(self.schedule)

    # -- saving ------------------------------------------------------------------------------
    def schedule(self) -> None:
        self.timer.start()  # restarts: 1.5 s after the last of a burst of strokes
        self._emit_state()

    def save_now(self) -> bool:
        """Save the current mask if it has unsaved edits; True when a save was started."""
        self.timer.stop()
        ed, ctx = self.editor, self.ctx
        if ed is None or ctx is None or not ed.dirty:
            return False
        if ed.in_stroke:  # never save half a stroke; the stroke's end schedules again
            return False
        rev = mask_revision(ctx, ed.mask.copy(), "", ed.stats, len(ed.history))
        return self._submit(rev, ed, digest=mask_digest(rev.mask if rev.mask is not None
                                                        else ctx.model_mask))

    def accept_model(self) -> bool:
        if self.ctx is None or self.ctx.model_mask is None:
            self.state_changed.emit("no model result to accept")
            return False
        return self._submit(accept_revision(self.ctx, ""), None,
                            digest=mask_digest(self.ctx.model_mask), force=True)

    def save_grade_only(self, grade: str, reason: str, text: str = "") -> bool:
        if self.ctx is None:
            return False
        try:
            rev = grade_only_revision(self.ctx, "", grade, reason, text)
        except ValueError as exc:
            self.state_changed.emit(str(exc))
            return False
        return self._submit(rev, None, digest=None, force=True)

    def _submit(self, rev, editor: LabelEditor | None, digest: str | None,
                force: bool = False) -> bool:
        if self.store is None:
            self._fail(rev.sha256, "no annotation store is open: open a folder first")
            return False
        name = (self.annotator() or "").strip()
        if not name:
            self._fail(rev.sha256, "saving needs the annotator's name")
            return False
        rev.annotator = name
        image = self.ctx.image if self.ctx is not None and self.ctx.sha256 == rev.sha256 else None
        skip_if = None if force else self._stored_digest.get(rev.sha256)
        version = editor.version if editor is not None else None
        self._next_job += 1
        self._jobs[self._next_job] = (rev.sha256, editor, version)
        w = GeneratorWorker(_append_job, self._next_job, self.store, rev, image, digest, skip_if)
        # Bound slots of this QObject, not lambdas: a lambda's queued call dies with the
        # worker's signals object, which the shared worker registry may free first.
        w.signals.returned.connect(self._on_returned)
        w.signals.finished.connect(self._finished)
        self._in_flight += 1
        start(w, self.pool)
        self.state_changed.emit("saving…")
        return True

    def _on_returned(self, value) -> None:
        job, result, error = value
        sha, editor, version = self._jobs.pop(job, ("", None, None))
        if error is not None:
            self._fail(sha, error)
        else:
            self._done(sha, editor, version, result)

    def _done(self, sha: str, editor: LabelEditor | None, version: int | None, result) -> None:
        if editor is not None and version is not None:
            editor.mark_saved(version)  # edits made meanwhile keep the editor dirty
        self.last_error = ""
        if result is None:
            return
        seq, status, digest = result
        if status != "grade-only":
            self._stored_digest[sha] = digest
        self.saved.emit(sha, int(seq), status)

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
        elif self.editor is not None and self.editor.dirty:
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
