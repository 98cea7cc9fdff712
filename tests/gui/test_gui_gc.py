"""Qt objects die on the GUI thread only: the cyclic collector never runs in a worker thread
(it used to free a closed window's QThreadPool/QPixmap/pyqtgraph items in the model-loading
thread: a segmentation fault now and then), and a finished worker's last reference is
dropped by the GUI thread."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QPixmap

from app.gui import gui_gc
from app.gui.workers import GeneratorWorker, _live, make_pool, start


class _Cycle:
    def __init__(self):
        self.me = self
        self.pixmap = QPixmap(8, 8)  # Python-owned: freed where the cycle is collected


def _allocate(n: int):
    junk = []
    for i in range(n):
        junk.append([i, {"k": [i]}])  # container objects: what advances the collector's counts
        if i % 5000 == 0:
            yield i
    return len(junk)


def test_a_window_keeps_the_collector_off_worker_threads(qtbot, make_window):
    win = make_window()
    assert gui_gc.installed() and not gc.isenabled()
    main = threading.get_ident()
    threads = []

    def record(phase, _info):
        if phase == "start":
            threads.append(threading.get_ident())

    dead = []
    c = _Cycle()
    weakref.finalize(c, lambda: dead.append(threading.get_ident()))
    del c  # garbage now, only a collection frees it
    gc.callbacks.append(record)
    try:
        w = GeneratorWorker(_allocate, 300_000)  # thousands of times the gen-0 threshold
        with qtbot.waitSignal(w.signals.finished, timeout=60000):
            start(w, make_pool(1, "alloc"))
        qtbot.waitUntil(lambda: bool(dead), timeout=10000)  # the GUI thread's timer collects it
    finally:
        gc.callbacks.remove(record)
    assert threads and set(threads) == {main}
    assert dead == [main]
    assert win.isVisible()


def test_finished_workers_die_on_the_gui_thread(qtbot):
    pool = make_pool(2, "short")
    died = []
    for _round in range(5):
        workers = [GeneratorWorker(lambda i=i: i) for i in range(20)]
        for w in workers:
            weakref.finalize(w, lambda: died.append(threading.get_ident()))
        for w in workers:
            start(w, pool)
        del w, workers
        pool.waitForDone(10000)
        qtbot.wait(20)
    start(GeneratorWorker(lambda: None), QThreadPool.globalInstance())  # prunes the released ones
    QThreadPool.globalInstance().waitForDone(10000)
    assert len(died) >= 100 and set(died) == {threading.get_ident()}
    assert len(_live) <= 2
