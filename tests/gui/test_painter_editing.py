"""Issue 14, "editing that behaves as a painter expects", in the real window with real mouse events:
the eraser gives back the cell under a fragment, a fill stops at membranes and asks before a large
change, polygon corners stay editable, a press paints at once."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt

from app.core.imaging import write_png
from app.core.label_edit import BACKGROUND, BLASTOMERE, FRAGMENT
from app.gui.annotator import set_name
from app.gui.edit_tools import BRUSH, ERASE_BG, ERASER, FLOOD, POLYGON
from app.gui.editing_integration import install_editing
from tests.gui.window_driver import click, drag, open_folder, view_pos


def _cells_folder(tmp_path):
    folder = tmp_path / "cells"
    folder.mkdir()
    img = np.full((96, 96), 200, np.uint8)
    for cx in (34, 62):  # two touching cells with their membranes
        cv2.circle(img, (cx, 48), 14, 120, -1)
        cv2.circle(img, (cx, 48), 14, 50, 2)
    write_png(folder / "a-cells.png", img)
    return folder


def _window(qtbot, make_window, settings, folder):
    set_name("P. Ainter", settings.qs)
    win = make_window()
    install_editing(win, confirm=lambda: True)
    win.resize(1600, 1000)
    open_folder(qtbot, win, folder)
    return win


def _tool(win, tool, value=None, radius=None):
    ed = win.editing.edit
    ed.set_tool(tool)
    if value is not None:
        ed.set_value(value)
    if radius is not None:
        ed.set_radius(radius)


def _blank_cell(qtbot, win):
    """Mask: background everywhere, then one blastomere disc of radius 30 in the middle."""
    _tool(win, ERASE_BG, radius=90)
    click(qtbot, win, 48.5, 48.5)
    assert (win.editing.state.editor.mask == BACKGROUND).all()
    _tool(win, BRUSH, BLASTOMERE, 30)
    click(qtbot, win, 48.5, 48.5)


def test_eraser_over_a_fragment_in_a_cell_gives_back_blastomere(qtbot, make_window, settings, image_folder):
    win = _window(qtbot, make_window, settings, image_folder)
    _blank_cell(qtbot, win)
    _tool(win, BRUSH, FRAGMENT, 4)
    click(qtbot, win, 48.5, 48.5)
    mask = win.editing.state.editor.mask
    assert mask[48, 48] == FRAGMENT
    _tool(win, ERASER, radius=7)
    drag(qtbot, win, [(48.5, 48.5), (50.5, 48.5), (52.5, 49.5)])
    assert (mask[40:57, 40:60] == BLASTOMERE).all()  # no hole in the cell
    # erasing to background stays possible (Shift+E)
    win.view.graphics.setFocus()
    qtbot.keyClick(win.view.graphics, Qt.Key.Key_E, Qt.KeyboardModifier.ShiftModifier)
    assert win.editing.edit.tool == ERASE_BG
    drag(qtbot, win, [(48.5, 48.5), (50.5, 48.5)])
    assert mask[48, 48] == BACKGROUND


def test_fill_stops_at_membranes_and_asks_before_a_large_fill(qtbot, make_window, settings, tmp_path):
    win = _window(qtbot, make_window, settings, _cells_folder(tmp_path))
    _blank_cell(qtbot, win)
    mask = win.editing.state.editor.mask
    asked = []
    win.editing.edit.confirm_fill = lambda share: asked.append(share) or False
    _tool(win, FLOOD, FRAGMENT)
    click(qtbot, win, 5.5, 5.5)  # the background around the embryo: far more than the embryo
    assert asked and asked[0] > 1.0 and (mask[:10, :10] == BACKGROUND).all()  # refused: unchanged
    win.editing.edit.confirm_fill = lambda share: True
    click(qtbot, win, 34.5, 48.5)  # inside the left cell
    assert mask[48, 34] == FRAGMENT and mask[40, 30] == FRAGMENT
    assert mask[48, 62] == BLASTOMERE  # the touching cell keeps its class
    assert mask[22, 48] == BLASTOMERE  # and so does the blastomere outside both cells


def test_polygon_corner_can_be_dragged_after_closing(qtbot, make_window, settings, image_folder):
    win = _window(qtbot, make_window, settings, image_folder)
    _blank_cell(qtbot, win)
    mask = win.editing.state.editor.mask
    _tool(win, POLYGON, FRAGMENT)
    for x, y in ((30.5, 30.5), (50.5, 30.5), (50.5, 50.5), (30.5, 50.5)):
        click(qtbot, win, x, y)
    win.view.graphics.setFocus()
    qtbot.keyClick(win.view.graphics, Qt.Key.Key_Return)  # closes the polygon (not "accept and next")
    assert mask[40, 40] == FRAGMENT and mask[60, 60] != FRAGMENT
    steps = len(win.editing.state.editor.history)
    drag(qtbot, win, [(50.5, 50.5), (56.5, 56.5), (64.5, 64.5)])  # the bottom-right corner
    assert mask[58, 58] == FRAGMENT  # inside the moved polygon
    assert mask[40, 40] == FRAGMENT
    assert len(win.editing.state.editor.history) == steps  # replaced, not one more step
    win.editing.edit.undo()
    assert mask[40, 40] == BLASTOMERE and mask[58, 58] == BLASTOMERE


def test_a_press_without_moving_paints_at_once(qtbot, make_window, settings, image_folder):
    win = _window(qtbot, make_window, settings, image_folder)
    _blank_cell(qtbot, win)
    mask = win.editing.state.editor.mask
    _tool(win, BRUSH, FRAGMENT, 3)
    vp = win.view.graphics.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_pos(win, 40.5, 40.5).toPoint())
    assert mask[40, 40] == FRAGMENT  # before the button is released
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_pos(win, 40.5, 40.5).toPoint())
    assert mask[40, 40] == FRAGMENT and win.editing.state.editor.history.undo_kind == "brush"
