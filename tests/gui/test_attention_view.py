"""Issue 14, "attention maps that explain": over the embryo only, contrast-stretched, a legend that
says what high means, and a flat gate said to be flat instead of drawn as an empty rectangle."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from PySide6.QtWidgets import QApplication

from app.gui.editing_integration import install_editing
from tests.gui.window_driver import open_folder


def test_attention_is_drawn_over_the_embryo_stretched_with_a_legend(qtbot, make_window, image_folder):
    win = make_window()
    install_editing(win, confirm=lambda: True)
    path = open_folder(qtbot, win, image_folder)
    controls = win.overlay_controls
    for s in controls.att_sliders.values():
        s.setValue(80)
    pred = win.controller.current_prediction
    mask = np.zeros((96, 96), np.uint8)
    cv2.circle(mask, (48, 48), 20, 1, -1)
    crop = np.zeros((96, 96), np.float32)
    crop[8:88, 8:88] = 1.0  # the graded crop: the predictor leaves 0 outside it
    ramp = np.tile(np.linspace(0.45, 0.55, 96, dtype=np.float32), (96, 1))  # faint left-right contrast
    att = {"gate_stride8": 0.999 * crop, "gate_stride4": ramp * crop}
    win.queue.result.emit(path, win.folder_panel.model.entry(path).sha256,
                          dataclasses.replace(pred, class_mask=mask, attention=att))
    QApplication.processEvents()

    rgba = win.view.attention_rgba("gate_stride4")
    assert rgba is not None
    assert rgba[12, 12, 3] == 0 and rgba[48, 84, 3] == 0  # inside the crop but off the embryo
    assert rgba[48, 48, 3] > 0
    # stretched: the embryo's left edge is drawn dark, its right edge bright (raw: 0.47 vs 0.53)
    left, right = rgba[48, 30, :3].astype(int), rgba[48, 66, :3].astype(int)
    assert right.sum() - left.sum() > 300
    assert "flat" in controls.att_notes["gate_stride8"].text()
    rgba8 = win.view.attention_rgba("gate_stride8")
    assert rgba8 is None or rgba8.size == 0 or not rgba8[..., 3].any()  # no empty rectangle
    assert "high" in controls.att_notes["gate_stride4"].text()
    assert controls.att_legend.text().startswith("High:")
