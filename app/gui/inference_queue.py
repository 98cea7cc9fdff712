"""The order in which images meet the model: current image first, then prefetch, then "grade all".

The queue lives on the GUI thread; each job runs as one ``GeneratorWorker``
on a private pool of one thread (the model is one resource; the Predictor
also holds a lock, so a second pool could not run it in parallel anyway).
A job reads the file, hashes it (memoised by the ResultCache index), looks
up the cache and only then runs the model; it yields between those steps,
so a cancel takes effect within one model call (well under a second on a
CPU at the network's input size).

Results are announced with ``result(path, sha256, Prediction)``; a job that
fails announces ``failed(path, message)`` and the queue moves on.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.core.embryo_presence import annotate as annotate_presence
from app.core.imaging import ImageReadError, read_image
from app.gui.workers import GeneratorWorker, make_pool, start
from model.grading import DEFAULT_SCHEME

CURRENT, PREFETCH, BATCH = 0, 1, 2


def grade_job(path: Path, predictor, cache, scheme: str, image=None):
    """Generator run in the model thread; returns (path, sha, Prediction, from_cache)."""
    sha = cache.file_sha256(path) if cache is not None else None
    yield "hashed"
    if cache is not None:
        hit = cache.get(sha, predictor.version, scheme)
        if hit is not None:
            return path, sha, hit, True
    if image is None:
        image = read_image(path)
    yield "read"
    pred = predictor.predict(image, scheme=scheme)
    annotate_presence(image, pred)  # "no embryo" / "several embryos" travel with the cached result
    if cache is not None:
        cache.put(sha, pred)
    return path, sha, pred, False


class InferenceQueue(QObject):
    result = Signal(object, object, object)  # path, sha256 (or None), Prediction
    failed = Signal(object, str)  # path, message
    queue_changed = Signal(int)  # jobs waiting + running
    batch_progress = Signal(int, int)  # done, total
    batch_finished = Signal(bool)  # True when cancelled
    notice = Signal(str)  # predictor notices (e.g. CUDA OOM -> CPU)

    def __init__(self, parent=None, prefetch: int = 3):
        super().__init__(parent)
        self.pool = make_pool(1, "model")
        self.prefetch_count = prefetch
        self.predictor = None
        self.cache = None
        self.scheme = DEFAULT_SCHEME
        self._jobs: list[tuple[int, Path]] = []  # (priority, path), kept sorted by priority
        self._images: dict[Path, object] = {}  # arrays handed over with a request
        self._running: GeneratorWorker | None = None
        self._running_path: Path | None = None
        self._running_kind: int | None = None
        self._batch: set[Path] = set()  # paths of "Grade all" not finished yet
        self._batch_total = 0
        self._batch_done = 0
        self._notices_seen = 0
        self.model_calls = 0  # results computed (not cached), for tests and the bench

    # -- configuration ---------------------------------------------------------------------
    def set_predictor(self, predictor) -> None:
        self.predictor = predictor
        self._notices_seen = len(predictor.notices) if predictor is not None else 0

    def set_cache(self, cache) -> None:
        self.cancel_all()
        self.cache = cache

    # -- requests --------------------------------------------------------------------------
    def request(self, current: Path, upcoming: list[Path] = (), image=None) -> None:
        """Grade ``current`` next, then prefetch the first few of ``upcoming``."""
        if self.predictor is None:
            return
        keep = [(BATCH, p) for _k, p in self._jobs if p in self._batch]  # prefetch of a batch path too
        self._jobs = [(CURRENT, current)]
        if image is not None:
            self._images = {current: image}
        else:
            self._images.clear()
        self._jobs += [(PREFETCH, p) for p in list(upcoming)[: self.prefetch_count] if p != current]
        queued = {p for _, p in self._jobs}
        self._jobs += [(k, p) for k, p in keep if p not in queued]
        self._pump()

    def grade_all(self, paths: list[Path]) -> None:
        if self.predictor is None:
            return
        new = [p for p in paths if p not in self._batch]
        if not new and not self._batch:  # nothing left to grade: the batch is done at once
            self.batch_finished.emit(False)
            return
        self._batch.update(new)
        self._batch_total += len(new)
        busy = {p for _, p in self._jobs} | ({self._running_path} if self._running is not None else set())
        self._jobs += [(BATCH, p) for p in new if p not in busy]
        self.batch_progress.emit(self._batch_done, self._batch_total)
        self._pump()

    def cancel_batch(self) -> None:
        had = self.batch_active
        self._jobs = [(k, p) for k, p in self._jobs if k != BATCH]
        if self._running is not None and self._running_kind == BATCH:
            self._running.cancel()
        self._batch.clear()
        self._batch_total = self._batch_done = 0
        self.queue_changed.emit(self.pending)
        if had:
            self.batch_finished.emit(True)

    def cancel_all(self) -> None:
        self.cancel_batch()
        self._jobs.clear()
        self._images.clear()
        if self._running is not None:
            self._running.cancel()
        self.queue_changed.emit(self.pending)

    @property
    def batch_active(self) -> bool:
        return bool(self._batch)

    @property
    def pending(self) -> int:
        return len(self._jobs) + (self._running is not None)

    @property
    def busy(self) -> bool:
        return self._running is not None or bool(self._jobs)

    def wait_idle(self, msecs: int = 30000) -> bool:
        """Block until the pool is idle (tests, shutdown); signals are delivered later."""
        return self.pool.waitForDone(msecs)

    # -- running ---------------------------------------------------------------------------
    def _pump(self) -> None:
        self.queue_changed.emit(self.pending)
        if self._running is not None or not self._jobs or self.predictor is None:
            return
        self._jobs.sort(key=lambda j: j[0])  # stable: keeps the order within a priority
        kind, path = self._jobs.pop(0)
        image = self._images.pop(path, None)
        w = GeneratorWorker(grade_job, path, self.predictor, self.cache, self.scheme, image)
        w.signals.returned.connect(self._on_returned)
        w.signals.errored.connect(self._on_errored)
        w.signals.finished.connect(self._on_finished)
        self._running, self._running_path, self._running_kind = w, path, kind
        start(w, self.pool)
        self.queue_changed.emit(self.pending)

    @Slot(object)
    def _on_returned(self, value) -> None:
        path, sha, pred, from_cache = value
        if self.predictor is None or pred.model_version != self.predictor.version:
            return  # a result of the model that was just replaced
        if not from_cache:
            self.model_calls += 1
        self.result.emit(path, sha, pred)

    @Slot(object)
    def _on_errored(self, exc) -> None:
        path = self._running_path
        msg = str(exc) if isinstance(exc, ImageReadError) else f"{type(exc).__name__}: {exc}"
        self.failed.emit(path, msg)

    @Slot()
    def _on_finished(self) -> None:
        path, cancelled = self._running_path, self._running.is_cancelled
        self._running = self._running_path = self._running_kind = None
        if self.predictor is not None and len(self.predictor.notices) > self._notices_seen:
            for n in self.predictor.notices[self._notices_seen:]:
                self.notice.emit(n)
            self._notices_seen = len(self.predictor.notices)
        if path in self._batch and not cancelled:  # done (graded, cached or failed), whatever queued it
            self._batch.discard(path)
            self._batch_done += 1
            self.batch_progress.emit(self._batch_done, self._batch_total)
            if not self._batch:
                self._batch_total = self._batch_done = 0
                self.batch_finished.emit(False)
        self._pump()
