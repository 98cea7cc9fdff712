"""The lab-server tests run against a real PostgreSQL cluster started here (tests/pg_cluster.py)."""

from __future__ import annotations

import itertools

import pytest

from tests.pg_cluster import find_bindir, make_lab, start_cluster

_dbs = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster():
    if find_bindir() is None:
        pytest.skip("no PostgreSQL binaries (initdb) on this machine: `apt-get install postgresql` "
                    "(.ci/run does it)")
    cluster = start_cluster()
    yield cluster
    cluster.destroy()


class Lab:
    """One fresh lab database: the owner's URL and one URL per person."""

    def __init__(self, cluster, db: str):
        self.cluster, self.db = cluster, db
        self.owner = make_lab(cluster, db, {"alice": "annotator", "bob": "annotator",
                                            "o'brien; drop table revisions;--": "annotator",
                                            "carol": "labadmin"})

    def url(self, user: str) -> str:
        from urllib.parse import quote

        return self.cluster.url(quote(user, safe=""), self.db)


@pytest.fixture
def lab(pg_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBRYOGRADE_DATA_DIR", str(tmp_path / "userdata"))
    return Lab(pg_cluster, f"lab{next(_dbs)}")


@pytest.fixture
def window_factory(qtbot, tmp_path, tiny_checkpoint, lab):
    """Factory: the whole window (create_window) on the tiny model, its lab server set to ``url``."""
    from app.gui.annotator import set_name
    from app.gui.app import create_window
    from app.gui.settings import Settings, redirect_user_settings
    from tests.gui.window_driver import close_windows, show_window

    redirect_user_settings(tmp_path / "qsettings")
    made = []

    def make(url: str | None, editing: bool = True):
        settings = Settings(tmp_path / f"settings{len(made)}.ini")
        set_name("alice", settings.qs)
        if url:
            settings.qs.setValue("lab_server/url", url)
        win = create_window(settings=settings, device="cpu", model=str(tiny_checkpoint), editing=editing)
        if editing:
            win.editing.confirm = lambda: True
        made.append(win)
        return show_window(qtbot, win)

    yield make
    close_windows(made)
