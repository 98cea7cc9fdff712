"""Issue 13: a correction lands on the image it was made on, and nothing the user did is lost.

Each test drives the real window (real mouse events, real buttons, the real
store) through one reproduced failure.
"""

from __future__ import annotations

import shutil

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.core.imaging import sha256_file
from app.core.label_edit import FRAGMENT
from app.core.report import build_rows
from app.gui.annotator import set_name
from app.gui.edit_tools import BRUSH, NAVIGATE
from app.gui.editing_integration import install_editing
from tests.gui.conftest import make_folder
from tests.gui.window_driver import (
    drag,
    open_folder,
    save_and_wait,
    select,
    set_grade,
    stored,
    wait_bound,
)

STROKE = [(30.5, 40.5), (45.5, 40.5), (60.5, 44.5)]


def _window(make_window, settings, name="T. Ester"):
    if name:
        set_name(name, settings.qs)
    win = make_window()
    install_editing(win, confirm=lambda: True)
    return win


def _paint(qtbot, win, points=STROKE, radius=4):
    win.editing.edit.set_tool(BRUSH)
    win.editing.edit.set_radius(radius)
    drag(qtbot, win, points)


def test_unreadable_image_shows_nothing_and_no_action_reaches_another(qtbot, make_window, settings, tmp_path):
    folder = make_folder(tmp_path / "mixed", 2)
    bad = folder / "zz-broken.png"  # sorts last: reached after a readable image
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    win = _window(make_window, settings)
    good = open_folder(qtbot, win, folder)
    assert win.view.image is not None
    select(qtbot, win, bad, wait=False)
    qtbot.waitUntil(lambda: win.folder_panel.model.entry(bad).error is not None, timeout=10_000)
    qtbot.wait(100)
    assert win.view.image is None and win.view.mask is None  # not the readable image's pixels
    ed = win.editing
    assert ed.edit.editor is None and ed.ctx is None
    assert not ed.panel.accept_button.isEnabled() and not ed.panel.grade_button.isEnabled()
    assert "zz-broken.png" in ed.panel.review_status.text()  # the reason, where the editor was
    # every action is inert: accept, painting, Ctrl+S
    qtbot.mouseClick(ed.panel.accept_button, Qt.MouseButton.LeftButton)
    ed.edit.set_tool(BRUSH)
    drag(qtbot, win, STROKE)
    save_and_wait(qtbot, win)
    assert stored(folder) == {}
    assert win.folder_panel.model.entry(good).status == "graded by model"


def test_first_row_unreadable_clears_the_previous_folders_image(qtbot, make_window, settings, tmp_path):
    good = make_folder(tmp_path / "good", 1)
    mixed = make_folder(tmp_path / "mixed", 1, broken=True)  # broken.png sorts first
    win = _window(make_window, settings)
    open_folder(qtbot, win, good)
    win.open_folder(mixed)
    qtbot.waitUntil(lambda: any(e.error for e in win.folder_panel.model.entries), timeout=10_000)
    assert win.controller.current.name == "broken.png"
    assert win.view.image is None and win.editing.edit.editor is None


def test_grade_over_painted_mask_keeps_both(qtbot, make_window, settings, image_folder):
    win = _window(make_window, settings)
    path = open_folder(qtbot, win, image_folder)
    _paint(qtbot, win)
    painted = win.editing.edit.editor.mask.copy()
    painted_pct = win.editing.edit.editor.stats.percent
    save_and_wait(qtbot, win)
    set_grade(qtbot, win, "3", "mask wrong")
    panel = win.editing.panel
    assert panel.corr_grade.text().startswith("3")
    assert win.grade_panel.corrected_labels["grade"].text().startswith("3")
    assert win.folder_panel.model.entry(path).status == "corrected"
    assert "corrected" in panel.review_status.text()
    sha = sha256_file(path)
    rev = stored(image_folder)[sha]
    assert rev.status == "corrected" and rev.grade == "3" and rev.grade_reason == "mask wrong"
    np.testing.assert_array_equal(rev.mask, painted)
    win.close()

    win2 = _window(make_window, settings)
    open_folder(qtbot, win2, image_folder)
    np.testing.assert_array_equal(win2.view.mask, painted)  # the mask survived
    assert win2.editing.panel.corr_grade.text().startswith("3")
    assert "corrected" in win2.editing.panel.review_status.text()
    assert win2.folder_panel.model.entry(path).status == "corrected"
    rows = build_rows(image_folder, [path], win2.controller.cache, win2.editing.store,
                      win2.controller.scheme, win2.controller.predictor.version)
    assert rows[0]["status"] == "corrected" and rows[0]["final_grade"] == "3"
    assert abs(rows[0]["corrected_fragment_pct"] - painted_pct) < 0.01


def test_undo_to_the_start_is_no_change_not_reviewed(qtbot, make_window, settings, image_folder):
    win = _window(make_window, settings)
    path = open_folder(qtbot, win, image_folder)
    _paint(qtbot, win)
    save_and_wait(qtbot, win)
    sha = sha256_file(path)
    assert stored(image_folder)[sha].status == "corrected"
    win.editing.edit.undo()
    save_and_wait(qtbot, win)
    rev = stored(image_folder).get(sha)
    assert rev is None or rev.status not in ("reviewed", "corrected")
    assert win.folder_panel.model.entry(path).status == "graded by model"
    assert "not reviewed" in win.editing.panel.review_status.text()


def test_first_stroke_does_not_move_the_image(qtbot, make_window, settings, image_folder):
    win = _window(make_window, settings)
    open_folder(qtbot, win, image_folder)
    qtbot.waitExposed(win)
    QApplication.processEvents()
    vp = win.view.graphics.viewport()
    before = vp.mapToGlobal(win.view.graphics.mapFromScene(win.view.image_item.mapToScene(50, 50)))
    width = win.view.width()
    _paint(qtbot, win)
    qtbot.wait(50)
    QApplication.processEvents()
    after = vp.mapToGlobal(win.view.graphics.mapFromScene(win.view.image_item.mapToScene(50, 50)))
    assert win.view.width() == width and after == before


def test_reason_text_does_not_carry_over(qtbot, make_window, settings, image_folder):
    win = _window(make_window, settings)
    open_folder(qtbot, win, image_folder)
    panel = win.editing.panel
    panel.reason_combo.setCurrentText("other")
    panel.reason_text.setText("blurred, see notes")
    win.folder_panel.step(1)
    wait_bound(qtbot, win)
    assert panel.reason_text.text() == "" and panel.reason_combo.currentText() != "other"


def test_identical_images_in_two_folders_keep_their_own_edits(qtbot, make_window, settings, tmp_path):
    a = make_folder(tmp_path / "a", 1)
    b = tmp_path / "b"
    b.mkdir()
    for p in a.iterdir():
        if p.is_file():
            shutil.copy(p, b / p.name)
    win = _window(make_window, settings)
    open_folder(qtbot, win, a)
    _paint(qtbot, win)
    save_and_wait(qtbot, win)
    painted_a = win.editing.edit.editor.mask.copy()
    assert len(stored(a)) == 1
    model = win.controller.current_prediction.class_mask
    open_folder(qtbot, win, b)
    ed = win.editing.edit.editor
    np.testing.assert_array_equal(ed.mask, model)  # not folder a's strokes
    assert not ed.can_undo
    _paint(qtbot, win, [(20.5, 70.5), (30.5, 70.5), (40.5, 70.5)], radius=3)
    save_and_wait(qtbot, win)
    (sha, rev_b), = stored(b).items()
    assert rev_b.mask[70, 32] == FRAGMENT and not np.array_equal(rev_b.mask, painted_a)
    assert rev_b.mask[40, 40] == model[40, 40]  # folder a's stroke is not in folder b's store
    np.testing.assert_array_equal(stored(a)[sha].mask, painted_a)


def test_annotator_is_asked_before_the_first_edit_not_mid_stroke(qtbot, make_window, settings, image_folder):
    win = _window(make_window, settings, name=None)
    asked = []

    def prompt(_parent, _current):
        ed = win.editing.edit.editor
        asked.append((ed.version if ed is not None else None, win.editing.edit.busy))
        return "N. Ew"

    win.editing.annotator.prompt = prompt
    open_folder(qtbot, win, image_folder)
    _paint(qtbot, win)
    save_and_wait(qtbot, win)
    _paint(qtbot, win, [(20.5, 70.5), (30.5, 70.5)])
    qtbot.waitUntil(lambda: not win.editing.saver.busy, timeout=10_000)
    assert asked == [(0, False)]  # once, before anything was painted
    assert win.editing.edit.tool == BRUSH
    # cancelling the question keeps the user out of the editing tools
    set_name("", settings.qs)
    win.editing.annotator.prompt = lambda *_a: None
    win.editing.edit.set_tool(NAVIGATE)
    win.editing.edit.set_tool(BRUSH)
    assert win.editing.edit.tool == NAVIGATE


def test_a_late_result_after_close_does_not_reopen_the_store(qtbot, make_window, settings, image_folder):
    # A prefetched result (or a cached row) delivered after the window closed asked for the
    # store again and reopened it: its lock kept the next window from saving to the folder.
    win = _window(make_window, settings)
    open_folder(qtbot, win, image_folder)
    win.close()
    assert win.editing.store is None
    entry = win.folder_panel.model.entries[1]
    win.controller.set_result(entry, "f" * 64, win.controller.current_prediction)
    assert win.editing.store is None
    win2 = _window(make_window, settings)
    open_folder(qtbot, win2, image_folder)
    assert win2.editing.store is not None
