"""Generator workers on a QThreadPool (the pattern of superqt's thread_worker, see ADR 0003).

A worker runs a generator function in a pool thread. Every ``yield`` is a
progress report (sent to the GUI thread with ``yielded``) and a cancel
point: after ``cancel()`` the generator is closed at its next ``yield``. The
generator's ``return`` value arrives with ``returned``; an exception with
``errored`` (the exception object, not a traceback string). Signals carry
plain Python / numpy objects (e.g. ``Prediction``), never tensors.

    w = GeneratorWorker(grade_files, paths)
    w.signals.yielded.connect(on_progress)
    w.signals.returned.connect(on_done)
    start(w, pool)

Signals are delivered through queued connections to receivers on the GUI
thread, so slots run on the GUI thread. A worker whose receiver has gone
away (window closed) finishes quietly.
"""

from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, QThreadPool, Signal

from app.gui import gui_gc


class WorkerSignals(QObject):
    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)  # the exception
    finished = Signal()  # always last, also after cancel or error


class Cancelled(Exception):
    """Raised inside a generator at the yield where it was cancelled (GeneratorExit is also fine)."""


class GeneratorWorker:
    """Not a QRunnable subclass on purpose: PySide6 keeps every started QRunnable
    wrapper alive from the pool's wrapper (a leak per job, measured by
    bench/gui_latency.py); a plain callable is released after the run."""

    def __init__(self, func, *args, **kwargs):
        self._func, self._args, self._kwargs = func, args, kwargs
        self._cancel = threading.Event()
        self.signals = WorkerSignals()  # created on the GUI thread: slots run there
        self.done = threading.Event()
        # Set once the pool thread holds no reference to the worker any more: only then may
        # the GUI thread drop its own, so the last one (and the QObject with it) dies there.
        self.released = threading.Event()
        self.thread_id: int | None = None

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:  # in a pool thread
        self.thread_id = threading.get_ident()
        sig = self.signals
        try:
            sig.started.emit()
            if self._cancel.is_set():
                return
            gen = self._func(*self._args, **self._kwargs)
            if not hasattr(gen, "__next__"):  # a plain function: its result is the return value
                sig.returned.emit(gen)
                return
            while True:
                try:
                    value = next(gen)
                except StopIteration as stop:
                    sig.returned.emit(stop.value)
                    return
                if self._cancel.is_set():
                    gen.close()
                    return
                sig.yielded.emit(value)
                if self._cancel.is_set():
                    gen.close()
                    return
        except Exception as exc:  # reported, never raised into the pool
            exc.__traceback_text__ = traceback.format_exc()
            try:
                sig.errored.emit(exc)
            except RuntimeError:  # signals object deleted with its receiver
                pass
        finally:
            self.done.set()
            try:
                sig.finished.emit()
            except RuntimeError:
                pass


_live: set[GeneratorWorker] = set()  # strong references until released (pruned on the GUI thread)


def _runner(worker: GeneratorWorker):
    # The pool keeps the callable until after it returns, and frees it in the pool
    # thread: it must not hold the worker, or the worker's QObject could die there.
    box = [worker]

    def run() -> None:
        w = box.pop()
        released = w.released
        try:
            w.run()
        finally:
            del w
            released.set()

    return run


def start(worker: GeneratorWorker, pool: QThreadPool | None = None, priority: int = 0) -> GeneratorWorker:
    """Start a worker; keeps a reference to it until it is done (dropped on the GUI thread)."""
    gui_gc.install()
    for w in [w for w in _live if w.released.is_set()]:
        _live.discard(w)
    _live.add(worker)
    (pool or QThreadPool.globalInstance()).start(_runner(worker), priority)
    return worker


def forget(workers) -> None:
    """Workers removed from their pool before they ran (``pool.clear()``): never run, release them."""
    for w in workers:
        w.cancel()
        w.done.set()
        w.released.set()


def live_workers() -> int:
    return sum(1 for w in _live if not w.done.is_set())


def make_pool(max_threads: int, name: str = "") -> QThreadPool:
    pool = QThreadPool()
    pool.setMaxThreadCount(max(1, max_threads))
    if name:
        pool.setObjectName(name)
    return pool
