"""Issue 14, "the list tells the truth at a glance": final values and who for corrected images,
cached results on reopening, readable names, the hours column only when hours are known."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.core.imaging import write_png
from app.gui.annotator import set_name
from app.gui.edit_tools import BRUSH
from app.gui.editing_integration import install_editing
from app.gui.folder_panel import COL_GRADE, COL_HOURS, COL_NAME, COL_PCT, COL_STATUS
from tests.gui.conftest import embryo_like, make_folder
from tests.gui.window_driver import drag, open_folder, save_and_wait, set_grade


def _window(make_window, settings, name="L. Ister"):
    set_name(name, settings.qs)
    win = make_window()
    install_editing(win, confirm=lambda: True)
    return win


def _cell(win, path, col):
    fp = win.folder_panel
    ix = fp.proxy.mapFromSource(fp.model.index(fp.model._row[path], col))
    return fp.proxy.data(ix, Qt.ItemDataRole.DisplayRole)


def test_corrected_rows_show_final_values_and_who_also_after_reopening(qtbot, make_window, settings,
                                                                      tmp_path):
    folder = make_folder(tmp_path / "imgs", 2)
    win = _window(make_window, settings)
    path = open_folder(qtbot, win, folder)
    ed = win.editing
    ed.edit.set_tool(BRUSH)
    ed.edit.set_radius(12)
    drag(qtbot, win, [(20.5, 20.5), (48.5, 30.5), (75.5, 60.5)])  # a large fragment
    save_and_wait(qtbot, win)
    final_pct = ed.state.editor.stats.percent
    model_pct = win.controller.current_prediction.fragment_pct_mask
    assert abs(final_pct - model_pct) > 1.0
    assert _cell(win, path, COL_PCT) == f"{final_pct:.1f}"
    assert _cell(win, path, COL_GRADE).startswith(ed.state.final_grade())
    assert _cell(win, path, COL_STATUS) == "corrected\nL. Ister"
    set_grade(qtbot, win, "3", "image poor")
    assert _cell(win, path, COL_GRADE) == "3"
    win.close()  # releases the folder's store

    win2 = _window(make_window, settings)
    open_folder(qtbot, win2, folder)
    assert _cell(win2, path, COL_PCT) == f"{final_pct:.1f}"
    assert _cell(win2, path, COL_GRADE) == "3"
    assert _cell(win2, path, COL_STATUS) == "corrected\nL. Ister"
    assert "L. Ister" in win2.folder_panel.proxy.data(
        win2.folder_panel.proxy.index(0, COL_STATUS), Qt.ItemDataRole.ToolTipRole)


def test_reopened_folder_lists_cached_results_without_running_the_model(qtbot, make_window, settings,
                                                                      tmp_path):
    folder = make_folder(tmp_path / "imgs", 8)
    win = _window(make_window, settings)
    open_folder(qtbot, win, folder)
    with qtbot.waitSignal(win.queue.batch_finished, timeout=60_000):
        win.grade_all()
    grades = {e.path: (e.grade, f"{e.fragment_pct:.1f}") for e in win.folder_panel.model.entries}
    win.close()

    win2 = _window(make_window, settings)
    win2.open_folder(folder)
    last = win2.folder_panel.model.entries[-1]  # far beyond what showing the first image prefetches
    qtbot.waitUntil(lambda: last.graded, timeout=10_000)
    assert _cell(win2, last.path, COL_STATUS) == "graded by model"
    assert (_cell(win2, last.path, COL_GRADE).rstrip(" ⚑"), _cell(win2, last.path, COL_PCT)) == grades[last.path]
    assert win2.queue.model_calls <= 1 + win2.queue.prefetch_count


def test_names_wrap_and_elide_at_the_end_with_the_full_path_as_tooltip(qtbot, make_window, settings,
                                                                      image_folder):
    win = _window(make_window, settings)
    open_folder(qtbot, win, image_folder)
    table = win.folder_panel.table
    assert table.textElideMode() == Qt.TextElideMode.ElideRight and table.wordWrap()
    path = win.folder_panel.model.entries[0].path
    tip = win.folder_panel.proxy.data(win.folder_panel.proxy.index(0, COL_NAME), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith(str(path))


def test_hours_column_only_when_every_name_carries_hours(qtbot, make_window, settings, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    for i in range(3):  # real time-lapse names: no hours in them
        write_png(plain / f"D2024.10.20_S01055_I4778_P_WELL0{i + 1}_RUN141.png", embryo_like(i))
    win = _window(make_window, settings)
    open_folder(qtbot, win, plain)
    assert win.folder_panel.table.isColumnHidden(COL_HOURS)
    timed = make_folder(tmp_path / "timed", 2)  # names ending in "_20.5h"
    open_folder(qtbot, win, timed)
    assert not win.folder_panel.table.isColumnHidden(COL_HOURS)
    assert _cell(win, win.folder_panel.model.entries[0].path, COL_HOURS) == "20.5"
