"""Issue 13: a frame without an embryo shows no grade in the window and none in the list."""

from __future__ import annotations

import numpy as np

from app.core.imaging import write_png
from tests.gui.conftest import make_folder


def test_black_frame_shows_no_grade(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path / "f", 1)
    write_png(folder / "a-black.png", np.zeros((96, 96), np.uint8))  # sorts first
    win = make_window()
    with qtbot.waitSignal(win.controller.prediction_shown, timeout=30_000) as b:
        win.open_folder(folder)
    assert b.args[0].name == "a-black.png"
    assert win.grade_panel.model_labels["grade"].text() == "— (no embryo found)"
    entry = win.folder_panel.model.entry(b.args[0])
    assert entry.graded and entry.grade == ""
