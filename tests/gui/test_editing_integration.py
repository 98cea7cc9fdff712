"""Editing inside the review window: paint, save, close, reopen the folder, see it and its status."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.core.label_edit import FRAGMENT
from app.gui.annotator import set_name
from app.gui.edit_tools import BRUSH
from app.gui.editing_integration import install_editing
from tests.gui.window_driver import wait_bound


def _open(qtbot, win, folder):
    with qtbot.waitSignal(win.controller.prediction_shown, timeout=30_000) as blocker:
        win.open_folder(folder)
    return blocker.args[0]


def _drag(qtbot, win, points):
    vp = win.view.graphics.viewport()

    def pos(x, y):
        return QPointF(win.view.graphics.mapFromScene(win.view.image_item.mapToScene(QPointF(x, y))))

    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=pos(*points[0]).toPoint())
    for p in points[1:]:
        qtbot.wait(12)  # pyqtgraph drops moves closer than 10 ms
        q = pos(*p)
        QApplication.sendEvent(vp, QMouseEvent(
            QEvent.Type.MouseMove, q, QPointF(vp.mapToGlobal(q)), Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=pos(*points[-1]).toPoint())


def test_correct_save_close_reopen(qtbot, make_window, image_folder, settings):
    set_name("T. Ester", settings.qs)
    win = make_window()
    editing = install_editing(win, confirm=lambda: True)
    path = _open(qtbot, win, image_folder)
    wait_bound(qtbot, win)  # editor bound and the view's range applied
    editing.edit.set_tool(BRUSH)
    editing.edit.set_radius(4)
    _drag(qtbot, win, [(30.5, 40.5), (45.5, 40.5), (60.5, 44.5)])
    painted = editing.edit.editor.mask.copy()
    assert painted[40, 40] == FRAGMENT and win.view.mask is editing.edit.editor.mask
    assert editing.panel.corr_pct.text() != "—"
    failures = []
    editing.saver.failed.connect(lambda *a: failures.append(a))
    with qtbot.waitSignal(editing.saver.saved, timeout=10_000) as b:
        editing.saver.save_action.trigger()
    assert b.args[2] == "corrected", failures
    assert win.folder_panel.model.entry(path).status == "corrected"
    win.close()
    assert editing.store is None  # released on close

    win2 = make_window()
    editing2 = install_editing(win2, confirm=lambda: True)
    path2 = _open(qtbot, win2, image_folder)
    assert path2 == path
    assert win2.folder_panel.model.entry(path).status == "corrected"
    qtbot.waitUntil(lambda: editing2.edit.editor is not None, timeout=10_000)
    np.testing.assert_array_equal(win2.view.mask, painted)
    assert editing2.panel.review_status.text().startswith("status: corrected")

    # Accepting the model's result replaces the correction (after confirmation), status reviewed.
    states = []
    editing2.saver.state_changed.connect(states.append)
    with qtbot.waitSignal(editing2.saver.saved, timeout=10_000) as b:
        editing2.panel.accept_button.click()
    assert b.args[2] == "reviewed", states
    np.testing.assert_array_equal(win2.view.mask, editing2.ctx.model_mask)
    assert win2.folder_panel.model.entry(path).status == "reviewed"
    win2.close()
