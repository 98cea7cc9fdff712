"""Driving the real review window the way a user does: open, move, drag the mouse, press buttons.

Shared by the correction regression tests and the stateful (Hypothesis) test,
so both exercise the same event paths: real mouse events through pyqtgraph,
real button clicks, the real annotation store.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.core.store import AnnotationStore, default_store_path


def show_window(qtbot, win, wait_model: bool = True):
    """Hand ``win`` to qtbot, wait (if asked) until its model is loaded, show it."""
    qtbot.addWidget(win)
    if wait_model and win.controller.predictor is None:
        with qtbot.waitSignal(win.model_choice.loaded, timeout=20_000):
            pass
    win.show()
    return win


def close_windows(windows) -> None:
    """Teardown for window factories: stop each window's queued work and pools, then close it."""
    for w in windows:
        w.queue.cancel_all()
        w.queue.wait_idle(5000)
        w.controller.io_pool.waitForDone(5000)
        w.folder_panel.model.thumbnails.pool.waitForDone(5000)
        w.close()


def open_folder(qtbot, win, folder, wait_prediction: bool = True):
    if not wait_prediction:
        win.open_folder(folder)
        return None
    with qtbot.waitSignal(win.controller.prediction_shown, timeout=30_000) as blocker:
        win.open_folder(folder)
    wait_bound(qtbot, win)
    return blocker.args[0]


def wait_bound(qtbot, win, timeout: int = 15_000) -> None:
    """Wait until the editing side follows the current image (editor on its mask)."""
    ed = win.editing

    def bound():
        return (ed.ctx is not None and ed.edit.editor is not None
                and Path(ed.ctx.path) == Path(win.controller.current))

    qtbot.waitUntil(bound, timeout=timeout)
    wait_view_ready(qtbot, win)


def wait_view_ready(qtbot, win) -> None:
    """The ViewBox applies its range lazily: map image points only once it has."""
    qtbot.waitExposed(win)
    vp = win.view.graphics.viewport()
    h, w = win.view.image.shape[:2]

    since = {}

    def ready():
        # Inside the viewport and still for 100 ms: the window's layout settles after a show.
        p = view_pos(win, w / 2, h / 2)
        key = (p.x(), p.y())
        if since.get("pos") != key:
            since.update(pos=key, t=time.monotonic())
        still = time.monotonic() - since["t"] >= 0.1
        return still and 0 < p.x() < vp.width() and 0 < p.y() < vp.height()

    qtbot.waitUntil(ready, timeout=5000)


def select(qtbot, win, path, wait: bool = True) -> None:
    win.folder_panel.select_path(Path(path))
    if wait:
        wait_bound(qtbot, win)


def view_pos(win, x: float, y: float) -> QPointF:
    """Image coordinates (column, row) -> viewport pixel."""
    scene = win.view.image_item.mapToScene(QPointF(x, y))
    return QPointF(win.view.graphics.mapFromScene(scene))


def drag(qtbot, win, points) -> None:
    vp = win.view.graphics.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_pos(win, *points[0]).toPoint())
    for p in points[1:]:
        qtbot.wait(12)  # pyqtgraph drops moves closer than 10 ms
        q = view_pos(win, *p)
        QApplication.sendEvent(vp, QMouseEvent(
            QEvent.Type.MouseMove, q, QPointF(vp.mapToGlobal(q.toPoint())), Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_pos(win, *points[-1]).toPoint())


def click(qtbot, win, x: float, y: float) -> None:
    vp = win.view.graphics.viewport()
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=view_pos(win, x, y).toPoint())


def save_and_wait(qtbot, win) -> None:
    """Ctrl+S, then wait for every save in flight to land."""
    win.editing.saver.save_action.trigger()
    assert win.editing.saver.pool.waitForDone(20_000)
    qtbot.wait(20)  # the saved signal is queued to the GUI thread


def set_grade(qtbot, win, grade: str, reason: str = "mask wrong", text: str = "") -> None:
    p = win.editing.panel
    p.grade_combo.setCurrentIndex(p.grade_combo.findData(grade))
    p.reason_combo.setCurrentText(reason)
    p.reason_text.setText(text)
    qtbot.mouseClick(p.grade_button, Qt.MouseButton.LeftButton)
    assert win.editing.saver.pool.waitForDone(20_000)
    qtbot.wait(20)


def stored(folder) -> dict:
    """sha -> current revision (with masks) of the folder's store, read without a lock."""
    try:
        s = AnnotationStore(default_store_path(folder), folder, readonly=True)
    except FileNotFoundError:
        return {}
    try:
        return s.current_all(masks=True)
    finally:
        s.close()
