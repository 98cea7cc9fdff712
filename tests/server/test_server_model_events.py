"""model_events on the real throwaway cluster: activation, rollback and fine-tune promotion are
logged on the lab server (who = session_user, when = the server's clock) when the CLI or the window
works against it; annotators are refused with a clear message and nothing changes locally."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from app.core import registry as R
from app.core.registry import Registry
from app.core.server_models import ModelEventRefused, history


@pytest.fixture
def models(monkeypatch, tmp_path, tiny_checkpoint, tiny_config, lab):
    """The user's registry (EMBRYOGRADE_DATA_DIR from ``lab``): the bundled tiny model and one child."""
    from model.checkpoint import save_checkpoint
    from model.network import AttnRegDeepLab

    monkeypatch.setattr(R, "bundled_model_path", lambda: tiny_checkpoint)
    reg = Registry()
    bundled = reg.active_version()
    save_checkpoint(tmp_path / "child.pt", AttnRegDeepLab(tiny_config), {"tag": "child"})
    child = reg.register(tmp_path / "child.pt", parent=bundled, metrics={"n_images": 3})
    return reg, bundled, child.version


def _server_now(lab):
    with psycopg.connect(lab.owner) as conn:
        return conn.execute("SELECT now()").fetchone()[0]


def test_cli_activation_and_rollback_are_logged_for_lab_admins_only(models, lab, capsys):
    from app.cli.dispatch import run

    _reg, bundled, child = models
    assert run(["models", "activate", child[:8], "--store", lab.url("alice")]) == 2
    err = capsys.readouterr().err
    assert "only a lab admin" in err and "alice" in err and "embryograde_labadmin" in err
    assert Registry().active_version() == bundled and history(lab.owner) == []  # nothing changed anywhere

    assert run(["models", "activate", child[:8], "--store", lab.url("carol")]) == 0
    assert run(["models", "rollback", "--store", lab.url("carol")]) == 0
    assert Registry().active_version() == bundled
    log = history(lab.owner)
    assert [(e["version"], e["status"], e["by_user"]) for e in log] == [
        (child, "active", "carol"), (bundled, "active", "carol")]
    assert log[1]["note"] == f"rollback from {child}" and log[1]["metadata"]["previous"] == child
    now = _server_now(lab)
    assert all(timedelta(0) <= now - e["at"] < timedelta(minutes=5) for e in log)  # the server's clock
    assert run(["models", "rollback", "--store", lab.url("alice")]) in (1, 2)  # nothing to roll back / refused
    assert len(history(lab.owner)) == 2


def test_finetune_promotion_is_the_lab_admins_decision(models, lab, tmp_path):
    from app.core import finetune as F
    from app.core.finetune_judge import Comparison

    reg, bundled, child = models

    def session(user: str) -> F.FineTuneSession:
        s = F.FineTuneSession(lab.url(user), tmp_path / f"run-{user}", Registry())
        s.candidate_version, s.parent_version = child, bundled
        s.comparison = Comparison({"fragment_dice": 0.5}, {"fragment_dice": 0.52}, worse=False)
        return s

    with pytest.raises(ModelEventRefused, match="only a lab admin"):
        session("bob").decide(True)
    assert Registry().active_version() == bundled and Registry().get(child).status == "candidate"
    activated, msg = session("carol").decide(True)
    assert activated and Registry().active_version() == child and Registry().get(child).status == "accepted"
    log = history(lab.owner)
    assert [(e["version"], e["status"], e["by_user"]) for e in log] == [
        (child, "accepted", "carol"), (child, "active", "carol")]
    assert log[0]["note"] == "fine-tune promotion" and log[0]["metadata"]["parent"] == bundled
    assert log[0]["metadata"]["store"].startswith("postgresql://carol@")


def test_window_rollback_is_logged_and_an_annotators_is_refused(models, window_factory, qtbot, lab):
    import threading

    reg, bundled, child = models
    reg.activate(child)  # before any lab server: this workstation alone
    win = window_factory(lab.url("alice"))
    ft = win.finetuning
    ft.rollback()
    qtbot.waitUntil(lambda: "only a lab admin" in win.statusBar().currentMessage(), timeout=20_000)
    assert Registry().active_version() == child and history(lab.owner) == []

    win.lab_server.apply(lab.url("carol"), None)
    seen = []
    ft.registry.recorder = None  # rollback() takes the recorder from the window's lab server
    real = ft._sync_recorder

    def sync_and_watch():
        real()
        inner = ft.registry.recorder

        def record(events):
            seen.append(threading.get_ident())
            return inner(events)
        ft.registry.recorder = record
    ft._sync_recorder = sync_and_watch
    ft.rollback()
    qtbot.waitUntil(lambda: Registry().active_version() == bundled, timeout=20_000)
    assert [(e["version"], e["by_user"]) for e in history(lab.owner)] == [(bundled, "carol")]
    assert seen and threading.main_thread().ident not in seen  # the round trip ran in a worker
    qtbot.waitUntil(lambda: "bundled is now active" in win.statusBar().currentMessage(), timeout=10_000)
