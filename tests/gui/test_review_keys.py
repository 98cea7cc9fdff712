"""Issue 14, "review from the keyboard": accept and next, jump to what needs a look, grade keys that
do not clash with zoom, Left/Right, the shortcut sheet. Real window, real key events, real store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.core.imaging import sha256_file
from app.gui.annotator import set_name
from app.gui.editing_integration import install_editing
from tests.gui.window_driver import open_folder, stored, wait_bound


def _window(qtbot, make_window, settings, folder):
    set_name("K. Board", settings.qs)
    win = make_window()
    install_editing(win, confirm=lambda: True)
    win.resize(1600, 1000)
    first = open_folder(qtbot, win, folder)
    return win, first


def _paths(win):
    return [e.path for e in win.folder_panel.model.entries]


def _key(qtbot, win, key, modifier=Qt.KeyboardModifier.NoModifier):
    win.view.graphics.setFocus()
    qtbot.keyClick(win.view.graphics, key, modifier)


def _current(win):
    return Path(win.controller.current)


def _land(qtbot, win):
    assert win.editing.saver.pool.waitForDone(20_000)
    qtbot.wait(30)


def test_left_right_move_between_images(qtbot, make_window, settings, image_folder):
    win, first = _window(qtbot, make_window, settings, image_folder)
    paths = _paths(win)
    _key(qtbot, win, Qt.Key.Key_Right)
    assert _current(win) == paths[1]
    _key(qtbot, win, Qt.Key.Key_Left)
    assert _current(win) == paths[0]


def test_enter_accepts_and_goes_to_the_next_image(qtbot, make_window, settings, image_folder):
    win, first = _window(qtbot, make_window, settings, image_folder)
    paths = _paths(win)
    _key(qtbot, win, Qt.Key.Key_Return)
    _land(qtbot, win)
    assert _current(win) == paths[1]
    rev = stored(image_folder)[sha256_file(paths[0])]
    assert rev.status == "reviewed" and rev.annotator == "K. Board"


def test_u_jumps_to_the_next_unreviewed_and_shift_u_to_the_next_borderline(qtbot, make_window, settings,
                                                                           image_folder):
    win, first = _window(qtbot, make_window, settings, image_folder)
    paths = _paths(win)
    wait_bound(qtbot, win)
    _key(qtbot, win, Qt.Key.Key_Return)  # 0 reviewed, now on 1
    wait_bound(qtbot, win)
    _key(qtbot, win, Qt.Key.Key_Return)  # 1 reviewed, now on 2
    _land(qtbot, win)
    win.folder_panel.select_path(paths[0])
    _key(qtbot, win, Qt.Key.Key_U)
    assert _current(win) == paths[2]  # 0 and 1 are reviewed
    # image 3 graded on a grade cut-off: borderline
    pred = win.controller.current_prediction
    sha3 = sha256_file(paths[3])
    qtbot.waitUntil(lambda: win.folder_panel.model.entry(paths[3]).graded, timeout=20_000)
    win.queue.result.emit(paths[3], sha3, dataclasses.replace(pred, fraction_mask=0.25,
                                                              fraction_regression=0.25))
    win.queue.result.emit(paths[2], sha256_file(paths[2]), dataclasses.replace(
        pred, fraction_mask=0.0, fraction_regression=0.0, disagreement=False))
    QApplication.processEvents()
    assert win.folder_panel.model.entry(paths[3]).borderline
    assert not win.folder_panel.model.entry(paths[2]).borderline
    win.folder_panel.select_path(paths[0])
    _key(qtbot, win, Qt.Key.Key_U, Qt.KeyboardModifier.ShiftModifier)
    assert _current(win) == paths[3]


def test_grade_keys_set_a_grade_and_do_not_zoom(qtbot, make_window, settings, image_folder):
    win, first = _window(qtbot, make_window, settings, image_folder)
    wait_bound(qtbot, win)
    model_grade = win.controller.current_prediction.grade
    other = "3" if model_grade != "3" else "2"
    rect = win.view.view_box.viewRect()
    _key(qtbot, win, getattr(Qt.Key, f"Key_{other}"))
    _land(qtbot, win)
    assert win.view.view_box.viewRect() == rect  # a grade key, not 1:1 any more
    rev = stored(image_folder)[sha256_file(first)]
    assert rev.status == "grade-only" and rev.grade == other and rev.grade_reason == "mask wrong"
    # the model's grade key means "the model is right"
    _key(qtbot, win, getattr(Qt.Key, f"Key_{model_grade}"))
    _land(qtbot, win)
    assert stored(image_folder)[sha256_file(first)].status == "reviewed"
    # 1:1 lives on Ctrl+1: one image pixel per screen pixel
    _key(qtbot, win, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    QApplication.processEvents()
    assert abs(win.view.view_box.viewRect().width() - win.view.view_box.width()) < 1.0


def test_question_mark_and_help_menu_show_the_shortcut_sheet(qtbot, make_window, settings, image_folder):
    win, first = _window(qtbot, make_window, settings, image_folder)
    _key(qtbot, win, Qt.Key.Key_Question, Qt.KeyboardModifier.ShiftModifier)
    sheet = win.keys.sheet
    assert sheet is not None and sheet.isVisible()
    text = sheet.text.toPlainText()
    for expected in ("Done, next image", "Next image not reviewed yet", "Zoom to embryo", "Whole frame",
                     "Ctrl+1", "Brush", "1 2 3", "Space (hold)"):
        assert expected in text, expected
    sheet.close()
    help_menu = [a.menu() for a in win.menuBar().actions() if a.text() == "&Help"][0]
    assert win.keys.sheet_action in help_menu.actions()
