"""File → Export report… in the real window: whole folder, selection, corrections, errors."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QItemSelectionModel, Qt

from app.core.report import read_report
from app.core.store import Revision
from app.gui.editing_integration import install_editing
from app.gui.export_dialog import install_export
from model.grading import get_scheme
from tests.gui.conftest import make_folder


def _open(qtbot, win, folder):
    with qtbot.waitSignal(win.controller.prediction_shown, timeout=30_000):
        win.open_folder(folder)


def _grade_all(qtbot, win):
    with qtbot.waitSignal(win.queue.batch_finished, timeout=30_000):
        win.grade_all()
    qtbot.waitUntil(lambda: not win.queue.busy, timeout=20_000)


def _export(qtbot, exp, dlg, out, click=True):
    dlg.out_edit.setText(str(out))
    with qtbot.waitSignal(exp.finished, timeout=60_000) as b:
        if click:
            qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
        else:
            dlg.accept()
    return b.args[0]


def _pct(v: float) -> str:
    return f"{v:.2f}"


def test_export_whole_folder_matches_cached_predictions(qtbot, make_window, image_folder, tmp_path):
    win = make_window()
    exp = install_export(win)
    texts = [a.text() for a in win.menuBar().actions()[0].menu().actions()]
    assert "Export report…" in texts and "Export selected…" in texts
    assert exp.export_action.shortcut().toString() == "Ctrl+E"
    _open(qtbot, win, image_folder)
    _grade_all(qtbot, win)
    calls = win.queue.model_calls

    win.grade_panel.set_scheme("eqc")
    exp.export_action.trigger()
    dlg = exp.dialog
    assert dlg.isVisible() and dlg.scope_all.isChecked() and dlg.scheme == "eqc"
    assert dlg.out_edit.text().startswith(str(image_folder / "embryograde-report-"))
    out = tmp_path / "out" / "report.csv"
    summary = _export(qtbot, exp, dlg, out)

    first, rows = read_report(out)
    assert first.startswith("# EmbryoGrade") and first.endswith("For research use only")
    entries = win.folder_panel.model.entries
    assert [r["image"] for r in rows] == [e.name for e in entries]
    version = win.controller.predictor.version
    for r in rows:
        pred = win.controller.cache.get(r["sha256"], version, scheme="eqc")
        assert pred is not None
        assert r["status"] == "model" and r["scheme"] == "eqc"
        assert r["fragment_pct_mask"] == _pct(pred.fragment_pct_mask)
        assert r["final_fragment_pct"] == _pct(pred.fragment_pct_mask)
        assert r["grade"] == r["final_grade"] == pred.grade
        assert r["model_version"] == version
    assert summary["rows"] == len(entries) and summary["status"]["model"] == len(entries)
    assert out.with_name("report.summary.txt").is_file()
    assert win.queue.model_calls == calls  # exporting graded images runs no model
    shown = dlg.status.text()
    assert str(out) in shown and f"{len(entries)} in the report" in shown
    assert "For research use only" in dlg.notice.text()
    assert "= + - @" in dlg.notice.text() and "leading '" in dlg.notice.text()
    assert "report written" in win.statusBar().currentMessage()
    dlg.reject()
    assert not dlg.isVisible()


def test_export_selected_grades_them_first(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path / "sel", 6)
    win = make_window()
    exp = install_export(win)
    _open(qtbot, win, folder)
    qtbot.waitUntil(lambda: not win.queue.busy, timeout=20_000)  # current + prefetch
    panel = win.folder_panel
    sm = panel.table.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    sm.clearSelection()
    for row in (5, 1):  # the last one was not prefetched
        sm.select(panel.proxy.index(row, 0), flags)
    wanted = [panel.model.entries[i] for i in (1, 5)]
    assert not wanted[1].graded

    exp.export_selected_action.trigger()
    dlg = exp.dialog
    assert dlg.scope_selected.isChecked() and "(2)" in dlg.scope_selected.text()
    assert dlg.grade_first.isChecked()
    out = tmp_path / "selected.csv"
    _export(qtbot, exp, dlg, out, click=False)

    _, rows = read_report(out)
    assert [r["image"] for r in rows] == [e.name for e in wanted]
    assert all(r["status"] == "model" and r["fragment_pct_mask"] for r in rows)
    assert all(e.graded for e in wanted)  # the list shows what the export graded
    version = win.controller.predictor.version
    for r in rows:
        pred = win.controller.cache.get(r["sha256"], version, scheme=r["scheme"])
        assert r["fragment_pct_mask"] == _pct(pred.fragment_pct_mask)

    # the whole folder, leaving ungraded images ungraded
    exp.open_all()
    assert dlg.scope_all.isChecked()
    dlg.as_ungraded.setChecked(True)
    _export(qtbot, exp, dlg, tmp_path / "all.csv")
    _, rows = read_report(tmp_path / "all.csv")
    assert len(rows) == 6
    for r, e in zip(rows, panel.model.entries):
        assert r["status"] == ("model" if e.graded else "ungraded")
        assert (r["final_grade"] == "") == (not e.graded)


def test_correction_in_store_wins_in_corrected_and_final_columns(qtbot, make_window, image_folder,
                                                                  tmp_path):
    win = make_window()
    editing = install_editing(win, confirm=lambda: True)
    exp = install_export(win)
    _open(qtbot, win, image_folder)
    _grade_all(qtbot, win)
    entry = win.folder_panel.model.entries[2]
    pred = win.controller.cache.get(entry.sha256, win.controller.predictor.version)
    mask = pred.class_mask.copy()
    editing.store.append(Revision(entry.sha256, str(entry.path), "corrected", "T. Ester",
                                  mask=mask, model_mask=pred.class_mask, fragment_fraction=0.3,
                                  scheme="istanbul", grade=get_scheme("istanbul").grade(30.0),
                                  model_version=pred.model_version))
    dlg = exp.open_dialog()
    dlg.scheme_combo.setCurrentIndex(dlg.scheme_combo.findData("istanbul"))
    summary = _export(qtbot, exp, dlg, tmp_path / "corr.csv")

    _, rows = read_report(tmp_path / "corr.csv")
    row = next(r for r in rows if r["sha256"] == entry.sha256)
    assert row["status"] == "corrected" and row["annotator"] == "T. Ester"
    assert row["corrected_fragment_pct"] == row["final_fragment_pct"] == "30.00"
    assert row["corrected_grade"] == row["final_grade"] == get_scheme("istanbul").grade(30.0)
    assert row["fragment_pct_mask"] == _pct(pred.fragment_pct_mask)  # the model's own number stays
    others = [r for r in rows if r is not row]
    assert all(r["status"] == "model" and r["corrected_fragment_pct"] == "" for r in others)
    assert summary["status"]["corrected"] == 1
    assert "corrected: 1" in dlg.status.text()
    win.close()


def test_unwritable_path_and_bad_mapping_show_errors_and_window_keeps_working(
        qtbot, make_window, image_folder, tmp_path):
    win = make_window()
    exp = install_export(win)
    _open(qtbot, win, image_folder)
    _grade_all(qtbot, win)
    dlg = exp.open_dialog()

    bad_map = tmp_path / "ids.csv"
    bad_map.write_text("name,first_name\nx,y\n", encoding="utf-8")
    dlg.ids_edit.setText(str(bad_map))
    dlg.accept()
    assert not exp.running and "id mapping" in dlg.status.text() and "folder_or_prefix" in dlg.status.text()
    dlg.ids_edit.setText("")

    blocker_file = tmp_path / "a-file"
    blocker_file.write_text("not a folder")
    dlg.out_edit.setText(str(blocker_file / "report.csv"))  # its "folder" is a file
    with qtbot.waitSignal(exp.failed, timeout=30_000) as b:
        dlg.accept()
    assert "could not be written" in b.args[0] and str(blocker_file) in b.args[0]
    assert dlg.status.text() == b.args[0] and "a50e0e" in dlg.status.styleSheet()
    assert dlg.isVisible() and dlg.export_button.isEnabled() and not exp.running
    assert not list(tmp_path.glob("**/report.csv"))

    # the window still navigates and shows results, and a second export works
    with qtbot.waitSignal(win.controller.prediction_shown, timeout=20_000):
        win.folder_panel.step(1)
    _export(qtbot, exp, dlg, tmp_path / "ok.csv")
    _, rows = read_report(tmp_path / "ok.csv")
    assert len(rows) == len(win.folder_panel.model.entries)
    assert np.isfinite([float(r["final_fragment_pct"]) for r in rows]).all()


def test_cancel_while_grading_writes_nothing(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path / "cancel", 12)
    win = make_window()
    exp = install_export(win)
    _open(qtbot, win, folder)
    dlg = exp.open_dialog()
    dlg.out_edit.setText(str(tmp_path / "never.csv"))
    with qtbot.waitSignal(exp.cancelled, timeout=30_000):
        dlg.accept()
        assert exp.running and dlg.close_button.text() == "Cancel"
        dlg.reject()  # Cancel: stops the job, keeps the dialog
    assert dlg.isVisible() and not exp.running and "no report was written" in dlg.status.text()
    assert not (tmp_path / "never.csv").exists()


def test_create_window_installs_export_beside_editing(qtbot, settings, tiny_checkpoint, image_folder):
    from app.gui.app import create_window

    win = create_window(settings=settings, device="cpu", model=str(tiny_checkpoint))
    qtbot.addWidget(win)
    if win.controller.predictor is None:
        with qtbot.waitSignal(win.model_choice.loaded, timeout=20_000):
            pass
    assert win.export is not None and win.editing is not None
    _open(qtbot, win, image_folder)
    exp = win.export
    dlg = exp.open_dialog()
    summary = _export(qtbot, exp, dlg, image_folder / "r.csv")  # grades the rest first
    assert summary["rows"] == 4 and summary["status"]["ungraded"] == 0
    win.close()
    win.queue.wait_idle(5000)
