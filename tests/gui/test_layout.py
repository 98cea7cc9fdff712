"""Issue 14, "the image is the work": the view's share of the window, a layout that holds still,
minimum sizes, zoom to the embryo and finer zoom. Each test drives the real window."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QGroupBox

from app.gui.editing_integration import install_editing
from tests.gui.window_driver import open_folder


def _settle(qtbot, ms: int = 60) -> None:
    QApplication.processEvents()
    qtbot.wait(ms)


def _sized(qtbot, make_window, w=1600, h=1000):
    win = make_window()
    install_editing(win, confirm=lambda: True)
    win.resize(w, h)
    qtbot.waitExposed(win)
    _settle(qtbot)
    return win


def test_view_gets_at_least_60_percent_of_a_1600_wide_window(qtbot, make_window, image_folder):
    win = _sized(qtbot, make_window)
    open_folder(qtbot, win, image_folder)
    _settle(qtbot)
    share = win.view.width() / win.width()
    print(f"view share at 1600x1000: {share:.3f} ({win.view.width()} px)")
    assert share >= 0.60
    # the folder list can be shut and gives its width to the image
    before = win.view.width()
    win.folder_list_action.trigger()
    _settle(qtbot)
    assert not win.folder_panel.isVisible() and win.view.width() > before + 150


def _geometry(win):
    return win.size(), win.view.geometry(), win.view.mapTo(win, QPoint(0, 0))


def test_warnings_and_corrected_values_move_nothing(qtbot, make_window, image_folder):
    win = _sized(qtbot, make_window)
    open_folder(qtbot, win, image_folder)
    _settle(qtbot)
    before = _geometry(win)
    pred = win.controller.current_prediction
    noisy = dataclasses.replace(
        pred, borderline=True, disagreement=True,
        warnings=["no embryo found on the coarse pass: graded the whole frame",
                  "unlike the images this model was trained on (score 9.9 > 3.0): check this grade "
                  "with extra care", "a third warning that wraps over several lines " * 3])
    win.grade_panel.set_values(noisy)
    win.grade_panel.set_corrected({"fragment_pct_mask": 12.5,
                                   "grade": "2 (set by hand for a very long reason that wraps)"})
    win.grade_panel.set_model_problem("the model file is unreadable: a long banner " * 3)
    win.folder_panel.table.setColumnHidden(2, False)  # a column added to the list
    _settle(qtbot)
    assert _geometry(win) == before


def test_minimum_size_800_by_550_keeps_the_view_and_boxes_usable(qtbot, make_window, image_folder):
    win = _sized(qtbot, make_window, 800, 550)
    open_folder(qtbot, win, image_folder)
    _settle(qtbot)
    assert (win.width(), win.height()) == (800, 550)
    assert win.view.width() >= 300 and win.view.height() >= 240
    for box in win.right.findChildren(QGroupBox):  # scrolled, never squashed to an empty bar
        assert box.height() >= box.minimumSizeHint().height(), box.title()
    assert win.side_panel.verticalScrollBar().maximum() > 0


def _view_rect(win):
    r = win.view.view_box.viewRect()
    return r.x(), r.y(), r.width(), r.height()


def test_zoom_to_embryo_by_default_and_f_for_the_whole_frame(qtbot, make_window, image_folder):
    win = _sized(qtbot, make_window)
    path = open_folder(qtbot, win, image_folder)
    pred = win.controller.current_prediction
    box = (30, 34, 60, 64)  # as the predictor's coarse pass reports it
    win.queue.result.emit(path, win.folder_panel.model.entry(path).sha256,
                          dataclasses.replace(pred, embryo_box=box))
    _settle(qtbot)
    x, y, w, h = _view_rect(win)
    cx, cy = x + w / 2, y + h / 2
    assert abs(cx - 45) < 2 and abs(cy - 49) < 2
    assert min(w, h) < 50  # the embryo fills the view, not the 96 px frame
    qtbot.keyClick(win.view.graphics, Qt.Key.Key_F)
    _settle(qtbot)
    x, y, w, h = _view_rect(win)
    assert min(w, h) >= 96 and x <= 0 and y <= 0
    qtbot.keyClick(win.view.graphics, Qt.Key.Key_Z)
    _settle(qtbot)
    assert min(_view_rect(win)[2:]) < 50


def _wheel(win, delta: int, modifiers=Qt.KeyboardModifier.NoModifier):
    vp = win.view.graphics.viewport()
    pos = QPointF(vp.width() / 2, vp.height() / 2)
    ev = QWheelEvent(pos, QPointF(vp.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, delta),
                     Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(vp, ev)


@pytest.mark.parametrize("modifiers, most", [(Qt.KeyboardModifier.NoModifier, 1.15),
                                             (Qt.KeyboardModifier.ControlModifier, 1.05)])
def test_wheel_zooms_in_fine_steps(qtbot, make_window, image_folder, modifiers, most):
    win = _sized(qtbot, make_window)
    open_folder(qtbot, win, image_folder)
    _settle(qtbot)
    w0 = _view_rect(win)[2]
    _wheel(win, 120, modifiers)  # one notch
    _settle(qtbot)
    w1 = _view_rect(win)[2]
    assert 1.01 < w0 / w1 <= most


def test_plus_and_minus_zoom(qtbot, make_window, image_folder):
    win = _sized(qtbot, make_window)
    open_folder(qtbot, win, image_folder)
    _settle(qtbot)
    w0 = _view_rect(win)[2]
    qtbot.keyClick(win.view.graphics, Qt.Key.Key_Plus)
    _settle(qtbot)
    w1 = _view_rect(win)[2]
    qtbot.keyClick(win.view.graphics, Qt.Key.Key_Minus)
    qtbot.keyClick(win.view.graphics, Qt.Key.Key_Minus)
    _settle(qtbot)
    assert w1 < w0 < _view_rect(win)[2]
