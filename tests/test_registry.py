"""Model registry: versions, parents, activation, rollback, the bundled floor, damage recovery, CLI."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from app.core import registry as R
from app.core.registry import Registry, RegistryError


def _ckpt(path, tiny_config, tag: str, parent: str | None = None):
    from model.checkpoint import save_checkpoint
    from model.network import AttnRegDeepLab

    torch.manual_seed(0)
    meta = {"tag": tag, **({"init_version": parent} if parent else {})}
    save_checkpoint(path, AttnRegDeepLab(tiny_config), meta)
    return path


@pytest.fixture
def reg(tmp_path, tiny_checkpoint):
    return Registry(tmp_path / "models", bundled=tiny_checkpoint)


@pytest.fixture
def chain(reg, tmp_path, tiny_config):
    """bundled -> a -> b, b active."""
    bundled = reg.active_version()
    a = reg.register(_ckpt(tmp_path / "a.pt", tiny_config, "a", bundled), parent=bundled,
                     metrics={"fragment_dice": 0.5, "n_images": 3}, trained_on={"samples": ["s1"]})
    b = reg.register(_ckpt(tmp_path / "b.pt", tiny_config, "b", a.version), parent=a.version)
    reg.activate(a.version)
    reg.activate(b.version)
    return bundled, a.version, b.version


def test_bundled_model_is_listed_active_and_undeletable(reg, tiny_checkpoint):
    from model.checkpoint import file_version

    entries = reg.entries()
    assert [e.status for e in entries] == ["bundled"]
    assert entries[0].version == file_version(tiny_checkpoint)
    assert reg.active_version() == entries[0].version
    assert reg.active_path() == tiny_checkpoint
    with pytest.raises(RegistryError, match="bundled"):
        reg.delete(entries[0].version)
    with pytest.raises(RegistryError, match="nothing to roll back"):
        reg.rollback()


def test_register_copies_and_records_provenance(reg, chain, tmp_path):
    bundled, a, b = chain
    e = reg.get(a)
    assert e.parent == bundled and e.trained_on == {"samples": ["s1"]} and e.metrics["fragment_dice"] == 0.5
    assert (reg.root / f"{a}.pt").is_file() and (reg.root / f"{a}.json").is_file()
    assert reg.active_path() == reg.root / f"{b}.pt"
    assert reg.get(b[:6]).version == b  # unique prefix
    with pytest.raises(RegistryError, match="active model"):
        reg.delete(b)


def test_rollback_restores_the_parent_then_the_bundled(reg, chain):
    bundled, a, b = chain
    assert reg.rollback().version == a
    assert reg.active_version() == a
    assert reg.rollback().version == bundled
    assert [ev["action"] for ev in reg.events()][-2:] == ["rollback", "rollback"]


def test_rollback_to_bundled_when_parent_is_gone(reg, chain):
    bundled, a, b = chain
    (reg.root / f"{a}.pt").unlink()
    assert reg.rollback().version == bundled


def test_rejected_model_needs_force(reg, chain):
    _, a, b = chain
    reg.activate(a)
    reg.set_status(b, "rejected", "fragment Dice fell")
    with pytest.raises(RegistryError, match="rejected"):
        reg.activate(b)
    assert reg.activate(b, force=True).version == b
    assert reg.events()[-1]["forced"] is True


def test_damaged_registry_is_moved_aside_and_rebuilt(reg, chain):
    bundled, a, b = chain
    reg.index_path.write_bytes(b"\x00{not json")
    fresh = Registry(reg.root, bundled=reg.bundled_path)
    versions = {e.version: e for e in fresh.entries()}
    assert set(versions) == {bundled, a, b}
    assert versions[b].parent == a and versions[a].trained_on == {"samples": ["s1"]}
    assert fresh.active_version() == b  # from active.txt
    assert fresh.recovery and "rebuilt" in fresh.recovery[0]
    assert list(reg.root.glob("registry.json.damaged-*"))
    json.loads(reg.index_path.read_text())  # a valid index again


def test_rebuild_without_sidecars_reads_checkpoint_metadata(reg, chain):
    bundled, a, b = chain
    for side in reg.root.glob("*.json"):
        side.unlink()
    reg.index_path.write_text("[]")
    (reg.root / "active.txt").unlink()
    fresh = Registry(reg.root, bundled=reg.bundled_path)
    e = fresh.get(b)
    assert e.status == "recovered" and e.parent == a
    assert fresh.active_version() == bundled  # the safe choice when the active one is unknown


def test_active_model_path_falls_back_to_bundled(reg, chain):
    _, _, b = chain
    (reg.root / f"{b}.pt").unlink()
    assert R.active_model_path(reg) == reg.bundled_path


def test_frozen_paths(monkeypatch, tmp_path):
    from app.core.finetune import app_command

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert R.bundled_model_path() == tmp_path / "resources" / "models" / "default.pt"
    assert app_command("train") == [sys.executable, "train"]
    monkeypatch.setattr(sys, "frozen", False)
    cmd = app_command("train")
    assert cmd[0] == sys.executable and cmd[1].endswith("main.py") and cmd[2] == "train"


def test_models_cli(monkeypatch, tmp_path, tiny_checkpoint, tiny_config, capsys):
    from app.cli.dispatch import run

    monkeypatch.setenv("EMBRYOGRADE_DATA_DIR", str(tmp_path / "ud"))
    monkeypatch.setattr(R, "bundled_model_path", lambda: tiny_checkpoint)
    reg = Registry()
    bundled = reg.active_version()
    a = reg.register(_ckpt(tmp_path / "a.pt", tiny_config, "a"), parent=bundled,
                     metrics={"n_images": 4, "fragment_dice": 0.61, "fraction_mae_pts_mask": 3.2})
    assert run(["models", "activate", a.version[:8]]) == 0
    assert run(["models", "list"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln[2:].startswith(a.version))
    assert line.startswith("*") and "0.610" in line and "3.20" in line and bundled in line
    assert run(["models", "rollback"]) == 0
    assert Registry().active_version() == bundled
    assert run(["models", "rollback"]) == 1
    assert run(["models", "activate", "ffffffff"]) == 1
