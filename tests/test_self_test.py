"""`--self-test` from the repository, and resource paths for the repo and a frozen bundle."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.self_test import run_self_test
from app.core import resources

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("environment", "image codecs", "Qt plugins (files)", "locate model", "load model",
         "read demo image", "grade demo image", "write CSV report", "read report back")


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "EMBRYOGRADE_MODEL")}
    env.update(extra)
    return env


# -- the self-test ---------------------------------------------------------------------------
def test_main_self_test_passes_headless_without_qt(tiny_checkpoint):
    """The real entry point, no display, the tiny model via $EMBRYOGRADE_MODEL; Qt never loads."""
    code = ("import sys, main\n"
            "rc = main.main(['--self-test'])\n"
            "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'))\n"
            "print('QT_LOADED', qt)\n"
            "sys.exit(rc)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, env=_clean_env(EMBRYOGRADE_MODEL=str(tiny_checkpoint)))
    assert p.returncode == 0, p.stdout + p.stderr
    for step in (*STEPS, "relaunch (train)"):
        assert any(line.startswith("[ OK ]") and step in line for line in p.stdout.splitlines()), (step, p.stdout)
    assert "self-test PASSED" in p.stdout
    assert "QT_LOADED []" in p.stdout


def test_self_test_in_process_reports_each_step(tiny_checkpoint, monkeypatch, capsys):
    monkeypatch.setenv("EMBRYOGRADE_MODEL", str(tiny_checkpoint))
    assert run_self_test(relaunch=False) == 0
    out = capsys.readouterr().out
    assert "from source" in out
    assert "$EMBRYOGRADE_MODEL" in out
    lines = out.splitlines()[1:-1]
    assert len(lines) == len(STEPS)
    for line, step in zip(lines, STEPS):
        assert re.match(rf"\[ OK \] {re.escape(step)} +\d+\.\d\d s", line), line  # status, step, time


def test_missing_model_fails_and_skips_what_needs_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMBRYOGRADE_MODEL", str(tmp_path / "nope.pt"))
    assert run_self_test(relaunch=False) == 1
    out = capsys.readouterr().out
    assert "[FAIL] locate model" in out and "nope.pt" in out
    for step in ("load model", "grade demo image", "write CSV report", "read report back"):
        assert f"[SKIP] {step}" in out
    assert "[ OK ] read demo image" in out  # independent steps still run and report
    assert "self-test FAILED (5 step(s))" in out


def test_bundled_model_missing_says_how_to_test_anyway(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("EMBRYOGRADE_MODEL", raising=False)
    monkeypatch.setattr(resources, "bundled_model_path", lambda: tmp_path / "default.pt")
    assert run_self_test(relaunch=False) == 1
    assert "set EMBRYOGRADE_MODEL" in capsys.readouterr().out


def test_corrupt_model_fails_load(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint" * 100)
    monkeypatch.setenv("EMBRYOGRADE_MODEL", str(bad))
    assert run_self_test(relaunch=False) == 1
    out = capsys.readouterr().out
    assert "[ OK ] locate model" in out
    assert "[FAIL] load model" in out
    assert "[SKIP] grade demo image" in out


def test_report_that_does_not_read_back_fails(tiny_checkpoint, monkeypatch, capsys):
    import app.core.report as report

    real = report.read_report

    def tampered(path, restore=True):
        first, rows = real(path, restore)
        rows[0]["final_grade"] = "9"
        return first, rows

    monkeypatch.setenv("EMBRYOGRADE_MODEL", str(tiny_checkpoint))
    monkeypatch.setattr(report, "read_report", tampered)
    assert run_self_test(relaunch=False) == 1
    out = capsys.readouterr().out
    assert "[ OK ] write CSV report" in out
    assert "[FAIL] read report back" in out and "grade '9'" in out


def test_failed_relaunch_fails(tiny_checkpoint, monkeypatch, capsys):
    monkeypatch.setenv("EMBRYOGRADE_MODEL", str(tiny_checkpoint))
    monkeypatch.setattr(resources, "app_command",
                        lambda *a: [sys.executable, "-c", "import sys; sys.exit(3)"])
    assert run_self_test(relaunch=True) == 1
    assert "[FAIL] relaunch (train)" in capsys.readouterr().out


def test_frozen_entry_script_runs_the_cli():
    """installers/entry.py is what a bundle runs; from source it needs the repo on the path."""
    env = _clean_env(PYTHONPATH=str(ROOT), EMBRYOGRADE_MP_START="spawn")
    p = subprocess.run([sys.executable, str(ROOT / "installers" / "entry.py"), "--version"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    assert "EmbryoGrade" in p.stdout


# -- resources -------------------------------------------------------------------------------
def test_resource_paths_from_the_repo(monkeypatch):
    monkeypatch.delenv("EMBRYOGRADE_MODEL", raising=False)
    assert not resources.is_frozen()
    assert resources.resources_dir() == ROOT / "resources"
    assert resources.bundled_model_path() == ROOT / "resources" / "models" / "default.pt"
    assert resources.default_model_path() == resources.bundled_model_path()
    assert resources.demo_images_dir() == ROOT / "resources" / "samples"
    assert (resources.demo_images_dir() / "manifest.csv").is_file()
    assert resources.app_command("train", "--help") == [sys.executable, str(ROOT / "main.py"),
                                                        "train", "--help"]


def test_model_env_var_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBRYOGRADE_MODEL", str(tmp_path / "mine.pt"))
    assert resources.default_model_path() == tmp_path / "mine.pt"


@pytest.mark.parametrize("bad", ["../secrets", "/etc/passwd"])
def test_resource_path_stays_inside_resources(bad):
    with pytest.raises(ValueError):
        resources.resource_path(bad)


def test_resource_paths_in_a_frozen_bundle(monkeypatch, tmp_path):
    internal = tmp_path / "EmbryoGrade" / "_internal"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(internal), raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "EmbryoGrade" / "EmbryoGrade"))
    assert resources.is_frozen()
    assert resources.bundled_model_path() == internal / "resources" / "models" / "default.pt"
    assert resources.demo_images_dir() == internal / "resources" / "samples"
    # the frozen executable takes the sub-command itself: there is no main.py
    assert resources.app_command("train", "--data", "x") == [sys.executable, "train", "--data", "x"]


def test_frozen_windows_relaunch_uses_the_console_twin(monkeypatch, tmp_path):
    gui = tmp_path / "EmbryoGrade.exe"
    cli = tmp_path / resources.WINDOWS_CLI_EXE
    gui.write_bytes(b"")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(gui))
    monkeypatch.setattr(sys, "platform", "win32")
    assert resources.app_command("train") == [str(gui), "train"]  # no twin: itself
    cli.write_bytes(b"")
    assert resources.app_command("train") == [str(cli), "train"]
