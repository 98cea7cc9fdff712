"""The whole window (create_window: lab server, editing, export, fine-tuning) on a real throwaway
PostgreSQL cluster, offscreen: export, review queue and fine-tune read the lab server through the
window's store; the GUI thread never uses the server; changing the server mid-session applies."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from app.core.store_api import open_store
from app.core.store_format import Revision
from tests.gui.conftest import make_folder
from tests.gui.window_driver import wait_bound

MAIN = threading.main_thread().ident


def _bob_corrects(lab, folder: Path, index: int, workstation: str = "bob-ws") -> tuple[str, np.ndarray]:
    """Bob saved a correction of the folder's ``index``-th image on his own workstation, so this
    one's folder preload does not carry its masks."""
    from app.core.imaging import read_image, sha256_file

    path = sorted(folder.glob("*.png"))[index]
    img = read_image(path)
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[20:70, 20:70] = 1
    mask[30:40, 30:40] = 2
    with open_store(lab.url("bob"), folder, workstation=workstation) as st:
        st.append(Revision(sha256_file(path), path.name, "corrected", "bob", mask=mask, model_mask=mask,
                           fragment_fraction=0.04, scheme="istanbul", grade="1"))
    return sha256_file(path), mask


def _open(qtbot, win, folder):
    with qtbot.waitSignal(win.controller.prediction_shown, timeout=30_000):
        win.open_folder(folder)


def test_unloaded_masks_are_fetched_in_a_worker_never_on_the_gui_thread(window_factory, qtbot, lab, tmp_path):
    folder = make_folder(tmp_path / "images", 2)
    sha, mask = _bob_corrects(lab, folder, 0)
    win = window_factory(lab.url("alice"))
    _open(qtbot, win, folder)
    wait_bound(qtbot, win, timeout=30_000)
    store = win.editing.store
    assert store.url == lab.url("alice")
    assert np.array_equal(win.editing.edit.editor.mask, mask)  # bob's correction, not the model's
    assert win.editing.state.ctx.sha256 == sha and "bob" in win.editing.panel.review_status.text()
    win.folder_panel.select_path(sorted(folder.glob("*.png"))[1])
    wait_bound(qtbot, win, timeout=30_000)
    qtbot.waitUntil(lambda: "✓" in win.lab_server.label.text(), timeout=15_000)
    assert store.network_threads and MAIN not in store.network_threads


@pytest.mark.parametrize("editing", [True, False], ids=["window-store", "opened-in-worker"])
def test_export_reads_the_lab_server(window_factory, qtbot, lab, tmp_path, editing):
    """With the editing part the export reads the window's open store; without it (a viewer
    window) it opens the lab server read-only in its worker: never the folder's file."""
    from app.core.report import read_report

    folder = make_folder(tmp_path / "images", 3)
    sha, _mask = _bob_corrects(lab, folder, 1)
    win = window_factory(lab.url("alice"), editing=editing)
    _open(qtbot, win, folder)
    with qtbot.waitSignal(win.queue.batch_finished, timeout=30_000):
        win.grade_all()
    if editing:
        qtbot.waitUntil(lambda: "✓" in win.lab_server.label.text(), timeout=15_000)
    dlg = win.export.open_dialog()
    dlg.out_edit.setText(str(tmp_path / "report.csv"))
    with qtbot.waitSignal(win.export.finished, timeout=60_000):
        dlg.accept()
    _, rows = read_report(tmp_path / "report.csv")
    row = next(r for r in rows if r["sha256"] == sha)
    assert row["status"] == "corrected" and row["annotator"] == "bob"
    assert sum(r["status"] == "corrected" for r in rows) == 1
    assert not (folder / ".embryograde" / "annotations.h5").exists()  # nothing read from or written there
    if editing:
        assert MAIN not in win.editing.store.network_threads


def test_review_queue_shows_the_lab_servers_statuses(window_factory, qtbot, lab, tmp_path):
    folder = make_folder(tmp_path / "images", 3)
    _bob_corrects(lab, folder, 2)
    win = window_factory(lab.url("alice"))
    _open(qtbot, win, folder)
    with qtbot.waitSignal(win.queue.batch_finished, timeout=30_000):
        win.grade_all()
    qtbot.waitUntil(lambda: "✓" in win.lab_server.label.text(), timeout=15_000)
    panel = win.finetuning.queue_panel
    panel.show()
    name = sorted(folder.glob("*.png"))[2].name
    qtbot.waitUntil(lambda: any(it.path.name == name and it.review_status == "corrected"
                                for it in panel.items), timeout=20_000)
    assert sum(bool(it.review_status) for it in panel.items) == 1
    assert MAIN not in win.editing.store.network_threads


def test_finetune_dialog_plans_from_the_lab_server(window_factory, qtbot, lab, tmp_path):
    from tests.server.test_server_finetune import fill_server

    fill_server(lab.url("bob"), tmp_path / "bob-folder")  # another workstation, folder since deleted
    folder = make_folder(tmp_path / "images", 1)
    win = window_factory(lab.url("alice"))
    _open(qtbot, win, folder)
    d = win.finetuning.open_finetune()
    qtbot.addWidget(d)
    assert d.session.store_path == lab.url("alice")
    qtbot.waitUntil(lambda: d.session.plan is not None and d.start_button.isEnabled(), timeout=30_000)
    plan = d.session.plan
    assert len(plan.train) + len(plan.val) == 9  # every correction on the server, none from a file
    assert "postgresql://alice@" in d.info.text()
    from app.core.project_dir import user_data_root

    assert user_data_root() in d.session.run_dir.parents  # per user, not a path made from the URL
    d.close()


def test_changing_the_lab_server_mid_session_applies_to_the_open_folder(window_factory, qtbot, lab, tmp_path):
    from app.core.server_journal import ServerJournal, journal_dir_for
    from app.core.server_schema import redact
    from app.gui.edit_tools import BRUSH
    from tests.gui.window_driver import drag
    from tests.pg_cluster import free_port

    folder = make_folder(tmp_path / "images", 2)
    paths = sorted(folder.glob("*.png"))
    gone = f"postgresql://alice@127.0.0.1:{free_port()}/lab"
    win = window_factory(gone)
    _open(qtbot, win, folder)
    wait_bound(qtbot, win, timeout=30_000)
    ed = win.editing
    with qtbot.waitSignal(ed.saver.saved, timeout=20_000):
        ed.accept_model()  # the server is gone: kept in its journal
    journal = ServerJournal(journal_dir_for(redact(gone)))
    assert len(journal) == 1
    win.folder_panel.select_path(paths[1])
    wait_bound(qtbot, win, timeout=30_000)
    ed.edit.set_tool(BRUSH)
    ed.edit.set_radius(4)
    drag(qtbot, win, [(30.5, 40.5), (50.5, 40.5)])  # unsaved: its save waits for the debounce
    old = ed.store
    win.lab_server.apply(lab.url("alice"), None)
    qtbot.waitUntil(lambda: ed.store is not old and ed.store is not None, timeout=30_000)
    assert len(journal) == 2  # the painted image too, saved where it was made; nothing lost
    assert "2 correction(s)" in win.statusBar().currentMessage()
    assert ed.store.url == lab.url("alice") and old._closed
    wait_bound(qtbot, win, timeout=30_000)  # the shown image is bound again, from the new store
    with qtbot.waitSignal(ed.saver.saved, timeout=20_000):
        ed.accept_model()
    with open_store(lab.url("bob"), folder, readonly=True) as st:
        revs = list(st.current_all(masks=False).values())
    assert [(r.path, r.annotator, r.status) for r in revs] == [(paths[1].name, "alice", "reviewed")]
    assert MAIN not in ed.store.network_threads
