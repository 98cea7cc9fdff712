"""A revision that arrives from the lab server updates the folder list's row as a local save does:
status, final fraction, final grade and who, not the status alone; the folder listed again
keeps the new values; moving a folder file to the server leaves nothing behind. Real window,
real throwaway cluster."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.core.imaging import read_image, sha256_file
from app.core.store_api import open_store
from app.core.store_format import Revision
from app.gui.folder_panel import COL_GRADE, COL_PCT, COL_STATUS
from tests.gui.conftest import make_folder
from tests.gui.window_driver import open_folder


def _correct(lab, folder: Path, path: Path, user: str, fraction: float, grade: str) -> None:
    img = read_image(path)
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[20:70, 20:70] = 1
    with open_store(lab.url(user), folder, workstation=f"{user}-ws") as st:
        st.append(Revision(sha256_file(path), path.name, "corrected", user, mask=mask, model_mask=mask,
                           fragment_fraction=fraction, scheme="istanbul", grade=grade))


def _row(win, path: Path) -> tuple[str, str, str]:
    model = win.folder_panel.model
    row = [e.path for e in model.entries].index(path)
    return tuple(model.data(model.index(row, col)) for col in (COL_STATUS, COL_PCT, COL_GRADE))


def test_a_server_notice_updates_fraction_grade_and_who_not_only_the_status(window_factory, qtbot, lab,
                                                                           tmp_path):
    folder = make_folder(tmp_path / "images", 2)
    path = sorted(folder.glob("*.png"))[1]
    _correct(lab, folder, path, "bob", 0.04, "1")
    win = window_factory(lab.url("alice"))
    open_folder(qtbot, win, folder)
    qtbot.waitUntil(lambda: _row(win, path) == ("corrected\nbob", "4.0", "1"), timeout=30_000)

    _correct(lab, folder, path, "carol", 0.30, "3")  # still "corrected": only the numbers change
    win.lab_server.sync_soon()
    qtbot.waitUntil(lambda: _row(win, path) == ("corrected\ncarol", "30.0", "3"), timeout=30_000)

    open_folder(qtbot, win, folder)  # listed again: the same folder's summaries, no stale copy
    qtbot.waitUntil(lambda: _row(win, path) == ("corrected\ncarol", "30.0", "3"), timeout=30_000)


def test_moving_a_folder_file_to_the_lab_server_reports_no_corrections_left_behind(window_factory, qtbot,
                                                                                   lab, tmp_path):
    """A folder file's journal holds saves already on disk (awaiting compaction), not saves
    waiting for a server: switching to the lab server must not say some were left behind."""
    from tests.gui.window_driver import wait_bound

    folder = make_folder(tmp_path / "images", 2)
    win = window_factory(None)
    open_folder(qtbot, win, folder)
    wait_bound(qtbot, win, timeout=30_000)
    ed = win.editing
    with qtbot.waitSignal(ed.saver.saved, timeout=20_000):
        ed.accept_model()
    old = ed.store
    assert old.journal_size >= 1  # the save sits in the folder file's journal
    win.lab_server.apply(lab.url("alice"), None)
    qtbot.waitUntil(lambda: ed.store is not old and ed.store is not None, timeout=30_000)
    msg = win.statusBar().currentMessage()
    assert "corrections now go to" in msg and "stay on this workstation" not in msg, msg
