"""One source of truth per image in the folder list: a byte-identical copy of a corrected image
(same sha256, another name, same folder) shares its store record, so its row says "corrected" as
soon as its hash is known, after a save here and when the folder is listed again.

Found by the stateful window test (tests/gui/stateful_checks.py, check_list).
"""

from __future__ import annotations

import shutil

from app.core.imaging import sha256_file
from app.gui.annotator import set_name
from app.gui.edit_tools import BRUSH
from app.gui.editing_integration import install_editing
from tests.gui.conftest import make_folder
from tests.gui.window_driver import drag, open_folder, save_and_wait, select, stored


def _window(make_window, settings):
    set_name("T. Win", settings.qs)
    win = make_window()
    install_editing(win, confirm=lambda: True)
    # Only the image shown is graded: the copy's hash stays unknown until the user reaches it.
    win.queue.prefetch_count = 0
    return win


def _folder_with_twin(tmp_path):
    folder = make_folder(tmp_path / "imgs", 2)
    first = sorted(folder.iterdir())[0]
    twin = folder / "zz-copy.png"  # sorts last: neither shown nor prefetched at first
    shutil.copy(first, twin)
    return folder, first, twin


def _correct_first(qtbot, win, folder, first):
    assert open_folder(qtbot, win, folder) == first
    win.editing.edit.set_tool(BRUSH)
    win.editing.edit.set_radius(8)
    drag(qtbot, win, [(25.5, 30.5), (50.5, 40.5), (70.5, 55.5)])
    save_and_wait(qtbot, win)
    assert stored(folder)[sha256_file(first)].status == "corrected"


def test_copy_not_graded_when_saved_says_corrected_once_its_hash_is_known(qtbot, make_window, settings,
                                                                          tmp_path):
    folder, first, twin = _folder_with_twin(tmp_path)
    win = _window(make_window, settings)
    _correct_first(qtbot, win, folder, first)
    model = win.folder_panel.model
    row = model.entry(twin)
    assert row.sha256 is None and row.status == "not graded"  # nothing says yet it is that image
    select(qtbot, win, twin)
    assert row.sha256 == sha256_file(first)
    assert row.status == "corrected", row.status  # was "graded by model"
    saved = model.entry(first)
    assert (row.final_grade, row.final_pct, row.review_by) == (saved.final_grade, saved.final_pct, "T. Win")
    assert win.editing.panel.review_status.text().startswith("status: corrected")


def test_copy_listed_again_says_corrected_once_its_hash_is_known(qtbot, make_window, settings, tmp_path):
    folder, first, twin = _folder_with_twin(tmp_path)
    win = _window(make_window, settings)
    _correct_first(qtbot, win, folder, first)
    select(qtbot, win, twin)  # graded now: the result cache knows the copy's hash
    win.close()  # releases the folder's store

    win2 = _window(make_window, settings)
    open_folder(qtbot, win2, folder)
    row = win2.folder_panel.model.entry(twin)
    qtbot.waitUntil(lambda: row.sha256 is not None, timeout=15_000)  # from the cached results
    assert row.status == "corrected", row.status  # was "graded by model": the store was read by path
    assert row.final_grade == win2.folder_panel.model.entry(first).final_grade
