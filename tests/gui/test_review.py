"""The review workflow end to end: open, grade in a worker, show, cache, cancel, errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from app.core.imaging import read_image
from app.gui.overlays import colour_mask
from model.predictor import Predictor
from tests.gui.conftest import make_folder


@pytest.fixture(scope="module")
def reference(tiny_checkpoint):
    return Predictor.from_checkpoint(tiny_checkpoint, device="cpu", threads=1)


def _open_and_wait(qtbot, win, folder):
    with qtbot.waitSignal(win.controller.prediction_shown, timeout=20000) as blocker:
        win.open_folder(folder)
    return blocker.args[0]


def test_open_folder_shows_the_predictors_output(qtbot, make_window, image_folder, reference):
    win = make_window()
    path = _open_and_wait(qtbot, win, image_folder)
    assert path == win.folder_panel.current_path()
    expected = reference.predict(read_image(path))
    np.testing.assert_array_equal(win.view.mask, expected.class_mask)
    np.testing.assert_array_equal(win.view.mask_rgba(), colour_mask(expected.class_mask, win.view.mask_style))
    assert set(win.view.attention) == {"gate_stride8", "gate_stride4"}
    for k, a in expected.attention.items():
        np.testing.assert_allclose(win.view.attention[k], a, atol=1e-5)
    # the overlay item shows exactly that RGBA array
    np.testing.assert_array_equal(win.view.mask_item.image, win.view.mask_rgba())
    # the grade panel shows the numbers
    labels = win.grade_panel.model_labels
    assert labels["fragment_pct_mask"].text() == f"{expected.fragment_pct_mask:.1f} %"
    assert labels["fragment_pct_regression"].text() == f"{expected.fragment_pct_regression:.1f} %"
    assert labels["grade"].text().startswith(expected.grade)
    assert labels["uncertainty"].text().startswith(f"± {expected.uncertainty:.1f} points")
    assert labels["model_version"].text() == expected.model_version
    assert "research use only" in win.grade_panel.notice.text().lower()
    # the model never ran on the GUI thread
    assert win.controller.predictor.last_thread is not None
    assert win.controller.predictor.last_thread != threading.get_ident()
    # the row shows the status
    entry = win.folder_panel.model.entry(path)
    assert entry.status == "graded by model"


def test_regrade_without_rerunning(qtbot, make_window, image_folder):
    win = make_window()
    _open_and_wait(qtbot, win, image_folder)
    calls = win.queue.model_calls
    win.grade_panel.set_scheme("eqc")
    assert win.controller.current_prediction.scheme == "eqc"
    assert "EQC" in win.grade_panel.scheme_combo.currentText()
    assert win.queue.model_calls == calls


def test_navigation_keys_move_and_prefetch(qtbot, make_window, image_folder):
    win = make_window()
    first = _open_and_wait(qtbot, win, image_folder)
    with qtbot.waitSignal(win.controller.prediction_shown, timeout=20000) as b:
        win.folder_panel.table.setFocus()
        qtbot.keyClick(win.folder_panel.table, "d")
    assert b.args[0] != first and b.args[0] == win.folder_panel.current_path()
    win.view.graphics.setFocus()
    qtbot.keyClick(win.view.graphics, "a")
    assert win.folder_panel.current_path() == first


def test_grade_all_then_reopen_uses_cache_and_new_model_invalidates(qtbot, make_window, tmp_path,
                                                                   tiny_config):
    folder = make_folder(tmp_path / "imgs", 5)
    win = make_window()
    _open_and_wait(qtbot, win, folder)
    with qtbot.waitSignal(win.queue.batch_finished, timeout=30000) as b:
        win.grade_all()
    assert b.args == [False]
    assert all(e.graded for e in win.folder_panel.model.entries)
    n = win.queue.model_calls
    assert n == 5

    # reopen the folder in a new window: results come from the disk cache
    win2 = make_window()
    _open_and_wait(qtbot, win2, folder)
    with qtbot.waitSignal(win2.queue.batch_finished, timeout=30000):
        win2.grade_all()
    assert all(e.graded for e in win2.folder_panel.model.entries)
    assert win2.queue.model_calls == 0

    # a different model misses the cache
    from model.checkpoint import save_checkpoint
    from model.network import AttnRegDeepLab

    torch.manual_seed(123)
    other = tmp_path / "other.pt"
    save_checkpoint(other, AttnRegDeepLab(tiny_config), {})
    with qtbot.waitSignal(win2.controller.prediction_shown, timeout=20000):
        win2.model_choice.set_model_path(str(other))
    assert win2.queue.model_calls == 1
    assert win2.controller.current_prediction.model_version == win2.controller.predictor.version


def test_cancel_stops_grade_all_within_a_second(qtbot, make_window, tmp_path):
    import time

    from PySide6.QtCore import Qt

    folder = make_folder(tmp_path / "many", 40)
    win = make_window()
    _open_and_wait(qtbot, win, folder)
    qtbot.waitUntil(lambda: not win.queue.busy, timeout=20000)  # current + prefetch done
    with qtbot.waitSignal(win.queue.batch_progress, timeout=20000):
        win.grade_all()
    assert win.cancel_button.isVisible()
    t0 = time.perf_counter()
    with qtbot.waitSignal(win.queue.batch_finished, timeout=1000) as b:
        qtbot.mouseClick(win.cancel_button, Qt.MouseButton.LeftButton)
    assert b.args == [True]
    assert win.queue.wait_idle(1000)
    assert time.perf_counter() - t0 < 1.0
    qtbot.wait(50)
    graded = sum(e.graded for e in win.folder_panel.model.entries)
    assert graded < 40
    qtbot.wait(300)
    assert sum(e.graded for e in win.folder_panel.model.entries) == graded  # nothing more ran
    assert not win.progress.isVisible()


def test_unreadable_file_shows_error_and_others_grade(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path / "mixed", 3, broken=True)
    win = make_window()
    win.open_folder(folder)  # broken.png sorts first: it is the current image
    qtbot.waitUntil(lambda: "broken.png" in win.statusBar().currentMessage(), timeout=10000)
    assert win.grade_panel.model_labels["fragment_pct_mask"].text() == "error"
    with qtbot.waitSignal(win.queue.batch_finished, timeout=30000):
        win.grade_all()
    qtbot.waitUntil(lambda: any(e.error for e in win.folder_panel.model.entries), timeout=5000)
    entries = {e.name: e for e in win.folder_panel.model.entries}
    bad = entries.pop("broken.png")
    assert bad.status == "error" and "broken.png" in bad.error
    assert all(e.graded for e in entries.values())
    # the row shows the message as a tooltip
    from PySide6.QtCore import Qt

    model = win.folder_panel.model
    row = model.entries.index(bad)
    assert "broken.png" in model.data(model.index(row, 3), Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(row, 3)) == "error"
    # selecting it shows a message, not a dialog
    win.folder_panel.step(1)
    win.folder_panel.select_path(bad.path)
    qtbot.waitUntil(lambda: "broken.png" in win.statusBar().currentMessage(), timeout=5000)


def test_no_model_keeps_working_as_viewer(qtbot, settings, tmp_path, image_folder):
    from app.gui.main_window import MainWindow

    win = MainWindow(settings=settings, device="cpu", model_path=str(tmp_path / "missing.pt"))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.model_choice.failed, timeout=10000):
        pass
    assert "no model" in win.model_label.text()
    with qtbot.waitSignal(win.controller.image_shown, timeout=10000):
        win.open_folder(image_folder)
    assert win.view.image is not None and win.view.mask is None
    banner = win.grade_panel.model_banner
    assert banner.isVisibleTo(win) and "missing.pt" in banner.text()


def test_space_hides_overlays(qtbot, make_window, image_folder):
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    win = make_window()
    _open_and_wait(qtbot, win, image_folder)
    win.activateWindow()
    assert win.view.mask_item.isVisible()
    target = win.view.graphics
    QApplication.sendEvent(target, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier))
    assert win.view.overlays_hidden and not win.view.mask_item.isVisible()
    QApplication.sendEvent(target, QKeyEvent(QEvent.Type.KeyRelease, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier))
    assert not win.view.overlays_hidden and win.view.mask_item.isVisible()


def test_settings_persist(qtbot, make_window, image_folder, settings):
    win = make_window()
    _open_and_wait(qtbot, win, image_folder)
    win.overlay_controls.mask_opacity.setValue(70)
    win.overlay_controls.att_sliders["gate_stride4"].setValue(30)
    win.grade_panel.set_scheme("asebir")
    win.close()
    from app.gui.settings import Settings

    s = Settings(settings.file_name)
    assert s.mask_opacity() == pytest.approx(0.7)
    assert s.attention_opacity("gate_stride4") == pytest.approx(0.3)
    assert s.scheme() == "asebir"
    assert s.recent_folders()[0] == str(image_folder.resolve())
    assert s.geometry() is not None
    assert s.device() in ("cpu", "auto")


def test_batch_of_paths_already_prefetching_still_finishes(qtbot, tmp_path, reference):
    from app.core.result_cache import ResultCache
    from app.gui.inference_queue import InferenceQueue

    folder = make_folder(tmp_path / "q", 3)
    paths = sorted(folder.glob("*.png"))
    q = InferenceQueue(prefetch=3)
    q.set_predictor(reference)
    q.set_cache(ResultCache(folder))
    got = []
    q.result.connect(lambda p, sha, pred: got.append(p))
    q.request(paths[0], paths[1:])
    with qtbot.waitSignal(q.batch_finished, timeout=20000) as b:
        q.grade_all(paths)  # every path is already queued as current / prefetch
    assert b.args == [False]
    assert sorted(set(got)) == paths
    assert q.wait_idle(5000)
