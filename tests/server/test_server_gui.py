"""Settings → Lab server in the real window (offscreen Qt): no network on the GUI thread, the
status bar says when the server is gone, a password never reaches the settings file."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from app.core.store_format import Revision


@pytest.fixture
def window(qtbot, tmp_path, tiny_checkpoint):
    from app.gui.lab_server import install_lab_server
    from app.gui.main_window import MainWindow
    from app.gui.settings import Settings

    win = MainWindow(settings=Settings(tmp_path / "settings.ini"), model_path=str(tiny_checkpoint))
    qtbot.addWidget(win)
    win.lab_server = install_lab_server(win)
    return win


def _saved_image(folder):
    from app.core.imaging import write_png

    folder.mkdir(parents=True, exist_ok=True)
    img = np.arange(32 * 32, dtype=np.uint8).reshape(32, 32)
    write_png(folder / "a.png", img)
    return hashlib.sha256((folder / "a.png").read_bytes()).hexdigest()


def test_window_store_syncs_in_a_worker_and_shows_the_server(window, qtbot, lab, tmp_path):
    from app.core.store_api import open_store

    folder = tmp_path / "images"
    sha = _saved_image(folder)
    with open_store(lab.url("bob"), folder) as bob:
        bob.append(Revision(sha, "a.png", "corrected", "bob", mask=np.ones((32, 32), np.uint8)))
    window.settings.qs.setValue("lab_server/url", lab.url("alice"))
    store = window.lab_server.open_store(folder)
    assert not store.online  # opened without touching the network on the GUI thread
    qtbot.waitUntil(lambda: "✓" in window.lab_server.label.text(), timeout=15_000)
    rev = store.current(sha)  # from memory: the folder's masks came with the sync
    assert rev.annotator == "bob" and rev.mask is not None
    store.append(Revision(sha, "a.png", "reviewed", "alice", model_mask=np.ones((32, 32), np.uint8)))
    assert store.history(sha)[-1].annotator == "alice"
    store.close()


def test_server_gone_status_bar_says_so_and_keeps_the_save(window, qtbot, tmp_path):
    from tests.pg_cluster import free_port

    folder = tmp_path / "images"
    sha = _saved_image(folder)
    window.settings.qs.setValue("lab_server/url", f"postgresql://alice@127.0.0.1:{free_port()}/lab")
    store = window.lab_server.open_store(folder)
    assert store.append(Revision(sha, "a.png", "reviewed", "alice", model_mask=np.ones((32, 32), np.uint8))) == 0
    window.lab_server.sync_soon()
    qtbot.waitUntil(lambda: "unreachable" in window.lab_server.label.text(), timeout=15_000)
    assert "1 correction(s) kept on this workstation" in window.lab_server.label.text()
    assert store.journal_size == 1
    store.close()


def test_dialog_refuses_a_password_in_the_url(window, qtbot, tmp_path):
    from app.gui.lab_server_dialog import LabServerDialog

    dlg = LabServerDialog("", None, window)
    qtbot.addWidget(dlg)
    dlg.url_edit.setText("postgresql://alice:s3cret@server/lab")
    dlg.accept()
    assert dlg.result() == 0 and "remove the password" in dlg.result_label.text()
    dlg.url_edit.setText("http://server/lab")
    assert "postgresql://" in dlg.problem()
    dlg.url_edit.setText("postgresql://alice@server/lab?sslmode=verify-full")
    assert dlg.problem() == ""
    window.settings.sync()
    assert "s3cret" not in (tmp_path / "settings.ini").read_text() if (tmp_path / "settings.ini").exists() else True
