"""Python's cyclic garbage collector runs on the GUI thread only (see ADR 0003).

Automatic collection runs in whichever thread happens to allocate when a
threshold is crossed. With worker threads that is often a pool thread (the
model load allocates a lot), and the collector then frees whatever cyclic
garbage exists at that moment: a closed window's Python-owned Qt objects
(QMainWindow, QThreadPool, QPixmap, QImage, pyqtgraph items), whose C++
destructors must run on the GUI thread. A QThreadPool destroyed from one of
its own threads, or a QGraphicsItem leaving a scene the GUI thread is
painting, ends in a segmentation fault.

So, as pyqtgraph's ``GarbageCollector`` does: automatic collection is off
while the GUI runs, and a timer on the GUI thread collects the generations
whose thresholds were crossed, the same work the automatic collector would
do, in the one thread where Qt objects may die.
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    def __init__(self, thresholds: tuple[int, int, int]):
        super().__init__()
        self.thresholds = thresholds
        self.collections = 0  # for tests
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.check)

    def check(self) -> None:
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self.thresholds
        if c0 <= t0:
            return
        gen = 2 if (c1 > t1 and c2 > t2) else 1 if c1 > t1 else 0
        gc.collect(gen)
        self.collections += 1


_collector: GuiThreadCollector | None = None
_lock = threading.Lock()


def install() -> GuiThreadCollector | None:
    """Idempotent; call on the GUI thread before the first worker thread starts (a window does).
    Elsewhere it does nothing: a worker that starts another must not stop the collector."""
    global _collector
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        return _collector
    with _lock:
        if _collector is not None and gc.isenabled() is False:
            return _collector
        # Garbage made before now (e.g. an earlier window) is freed here, on this thread,
        # not by the first worker that allocates.
        gc.collect()
        gc.disable()
        if _collector is None:
            _collector = GuiThreadCollector(gc.get_threshold())
            app.aboutToQuit.connect(release)
        _collector.timer.start()
        return _collector


def release() -> None:
    """Back to automatic collection (the application quits, or the tests leave the GUI behind)."""
    with _lock:
        if _collector is None or not _collector.timer.isActive():
            return
        _collector.timer.stop()
        gc.collect()
        gc.enable()


def installed() -> bool:
    return _collector is not None and _collector.timer.isActive() and not gc.isenabled()
