"""Image view, overlays, folder list and settings pieces, tested on their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from app.gui.overlays import (
    MaskStyle,
    colour_heatmap,
    colour_mask,
    colour_mask_region,
    percentile_levels,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("scale", ["1.25", "1.5"])
def test_overlay_stays_aligned_under_hidpi(scale):
    env = dict(os.environ, QT_SCALE_FACTOR=scale, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("hidpi_child.py"))], env=env,
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["dpr"] == pytest.approx(float(scale))
    np.testing.assert_allclose(r["mask"], r["image"], atol=1e-6)
    np.testing.assert_allclose(r["attention"], r["image"], atol=1e-6)


def test_region_recolour_equals_full_recolour():
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 3, (60, 70)).astype(np.uint8)
    for outline in (False, True):
        style = MaskStyle(opacity=0.5, outline=outline)
        rgba = colour_mask(mask, style)
        mask[10:20, 30:45] = 2
        colour_mask_region(rgba, mask, style, 10, 20, 30, 45)
        np.testing.assert_array_equal(rgba, colour_mask(mask, style))


def test_class_toggle_and_heatmap():
    mask = np.array([[0, 1], [2, 2]], np.uint8)
    style = MaskStyle(opacity=1.0)
    style.visible[2] = False
    rgba = colour_mask(mask, style)
    assert rgba[0, 0, 3] == 0 and rgba[0, 1, 3] == 255 and rgba[1, 0, 3] == 0
    h = colour_heatmap(np.array([[0.0, 1.0]], np.float32), 0.5)
    assert h[0, 0, 3] == 0 and h[0, 1, 3] == 127


def test_percentile_levels_16bit():
    img = np.zeros((100, 100), np.uint16)
    img[:, 50:] = 4000
    img[0, 0] = 65535  # one hot pixel must not set the top level
    lo, hi = percentile_levels(img)
    assert lo == 0 and hi == 4000


def test_image_view_levels_and_update_region(qtbot):
    from app.gui.image_view import ImageView

    view = ImageView()
    qtbot.addWidget(view)
    img = np.full((40, 50, 3), 100, np.uint8)
    view.set_image(img)
    mask = np.zeros((40, 50), np.uint8)
    view.set_prediction_overlays(mask, {})
    mask[5:10, 5:10] = 2
    view.update_mask_region(5, 10, 5, 10)
    np.testing.assert_array_equal(view.mask_item.image, colour_mask(mask, view.mask_style))
    view.set_levels(10, 200)
    assert tuple(view.image_item.levels) == (10, 200)
    view.fit()
    view.one_to_one()


def test_folder_model_sort_filter(qtbot, tmp_path):
    from app.gui.entries import Entry
    from app.gui.folder_panel import COL_UNC, FolderPanel

    panel = FolderPanel()
    qtbot.addWidget(panel)
    entries = [Entry(path=tmp_path / f"e{i}.png", name=f"e{i}.png") for i in range(5)]
    for i, e in enumerate(entries[:3]):
        e.model_version = "v"
        e.fraction_mask, e.uncertainty, e.grade = 0.05 * i, [4.0, 1.0, 9.0][i], "1"
    entries[3].error = "unreadable"
    entries[2].review_status = "corrected"
    panel.set_entries(entries)
    panel.proxy.set_filters(status="graded by model")
    assert panel.proxy.rowCount() == 2
    panel.proxy.set_filters(status="", min_uncertainty=3.0)
    assert panel.proxy.rowCount() == 2
    panel.proxy.set_filters(min_uncertainty=0.0, grade="1")
    assert panel.proxy.rowCount() == 3
    panel.proxy.set_filters(grade="")
    panel.table.sortByColumn(COL_UNC, __import__("PySide6.QtCore", fromlist=["Qt"]).Qt.SortOrder.DescendingOrder)
    first = panel.model.entries[panel.proxy.mapToSource(panel.proxy.index(0, 0)).row()]
    assert first.name in ("e3.png", "e4.png")  # ungraded (unknown uncertainty) first when descending
    names = [panel.model.entries[panel.proxy.mapToSource(panel.proxy.index(r, 0)).row()].name
             for r in range(5)]
    assert names[2:] == ["e2.png", "e0.png", "e1.png"]
    assert entries[2].status == "corrected"


def test_ten_thousand_files_open_at_once(qtbot, tmp_path, settings):
    from app.gui.main_window import MainWindow

    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(10_000):
        (folder / f"D2024.01.01_S1_I1_WELL{i % 12}_RUN{i}.png").touch()
    win = MainWindow(settings=settings, load_model=False)
    qtbot.addWidget(win)
    win.show()
    t0 = time.perf_counter()
    win.open_folder(folder)
    qtbot.wait(1)
    dt = time.perf_counter() - t0
    assert win.folder_panel.proxy.rowCount() == 10_000
    # target 1 s on an idle machine (bench/gui_latency.py); CI machines are shared
    assert dt < 4.0, f"opening took {dt:.2f} s"
    # empty files: unreadable, shown as errors, nothing blocks
    qtbot.waitUntil(lambda: win.folder_panel.model.entries[0].error is not None, timeout=5000)
    win.controller.io_pool.waitForDone(5000)
    win.folder_panel.model.thumbnails.pool.clear()
    win.folder_panel.model.thumbnails.pool.waitForDone(5000)


def test_gui_command_does_not_import_qt():
    code = ("import sys, argparse; import app.cli.gui_cmd as g; p = argparse.ArgumentParser(); "
            "g.add_arguments(p); a = p.parse_args(['some/folder', '--device', 'cpu', '--model', 'm.pt']); "
            "assert a.folder == 'some/folder' and a.device == 'cpu' and a.model == 'm.pt'; "
            "assert 'PySide6' not in sys.modules and 'pyqtgraph' not in sys.modules, 'Qt imported'")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_settings_recent_folders(settings):
    for i in range(15):
        settings.add_recent_folder(f"/data/f{i}")
    settings.add_recent_folder("/data/f3")
    rec = settings.recent_folders()
    assert rec[0] == "/data/f3" and len(rec) == 10 and rec.count("/data/f3") == 1
    assert settings.last_folder() == "/data/f3"


def test_run_gui_opens_a_folder_without_blocking(qtbot, image_folder, tiny_checkpoint, settings):
    from app.gui.app import run_gui

    win = run_gui(folder=str(image_folder), model=str(tiny_checkpoint), device="cpu", settings=settings,
                  exec_loop=False)
    qtbot.addWidget(win)
    assert win.folder_panel.proxy.rowCount() == 4
    with qtbot.waitSignal(win.controller.prediction_shown, timeout=20000):
        pass
    win.queue.cancel_all()
    win.queue.wait_idle(5000)


def test_dropping_a_folder_or_a_file_opens_it(qtbot, image_folder, settings):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from app.gui.main_window import MainWindow

    win = MainWindow(settings=settings, load_model=False)
    qtbot.addWidget(win)
    files = sorted(image_folder.glob("*.png"))

    def drop(path):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        ev = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier)
        win.dropEvent(ev)

    drop(image_folder)
    assert win.folder_panel.proxy.rowCount() == len(files)
    drop(files[2])
    assert win.folder_panel.current_path() == files[2].resolve()
    assert settings.recent_folders()[0] == str(image_folder.resolve())
    win.controller.io_pool.waitForDone(5000)


def test_entry_regrade_matches_prediction_regrade(tiny_checkpoint):
    from app.gui.entries import Entry
    from model.predictor import Predictor

    pred = Predictor.from_checkpoint(tiny_checkpoint, device="cpu", threads=1).predict(
        np.full((48, 48), 120, np.uint8))
    e = Entry(path=Path("x.png"), name="x.png")
    e.set_prediction("0" * 64, pred)
    for scheme in ("eqc", "asebir", "istanbul"):
        e.regrade(scheme)
        ref = pred.regrade(scheme)
        assert (e.grade, e.borderline) == (ref.grade, ref.borderline)
