"""The built Linux bundle works without the repository or its venv (issue 8).

Opt-in: building takes many minutes and gigabytes, so it runs only with
EMBRYOGRADE_TEST_INSTALLER=1 (`make installer` builds and self-tests without
pytest). EMBRYOGRADE_INSTALLER_BUNDLE=dist/EmbryoGrade checks an existing
bundle instead of building one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.installer,
    pytest.mark.skipif(os.environ.get("EMBRYOGRADE_TEST_INSTALLER") != "1",
                       reason="builds the PyInstaller bundle; set EMBRYOGRADE_TEST_INSTALLER=1"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds the Linux bundle"),
]


def _bundle_env(**extra) -> dict:
    # Nothing of this checkout or its venv may help the bundle: no PYTHONPATH, and
    # the bundle runs from a folder outside the repository.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DISPLAY", "WAYLAND_DISPLAY",
                        "EMBRYOGRADE_MODEL")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, tiny_checkpoint) -> Path:
    given = os.environ.get("EMBRYOGRADE_INSTALLER_BUNDLE")
    if given:
        exe = Path(given).resolve() / "EmbryoGrade"
        assert exe.is_file(), f"{exe} not found"
        return exe
    cmd = ["bash", str(ROOT / "installers" / "build_linux.sh")]
    if not (ROOT / "resources" / "models" / "default.pt").is_file():
        cmd += ["--self-test-model", str(tiny_checkpoint)]
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3 * 3600,
                       env={**os.environ, "PYTHON": sys.executable})
    print(f"build + self-test: {time.monotonic() - t0:.0f} s\n{p.stdout[-3000:]}")
    assert p.returncode == 0, p.stdout[-5000:] + p.stderr[-5000:]
    assert "self-test PASSED" in p.stdout
    return ROOT / "dist" / "EmbryoGrade" / "EmbryoGrade"


def _run(exe: Path, *args: str, cwd: Path, timeout: int = 600, **env) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=_bundle_env(**env))


def test_bundle_layout(bundle):
    internal = bundle.parent / "_internal"
    assert (internal / "resources" / "samples" / "manifest.csv").is_file()
    platforms = internal / "PySide6" / "Qt" / "plugins" / "platforms"
    assert (platforms / "libqxcb.so").is_file() and (platforms / "libqoffscreen.so").is_file()
    assert not (internal / "torch" / "include").exists()  # headers excluded
    assert sorted(p.name for p in (internal / "torch" / "bin").iterdir()) == ["torch_shm_manager"]
    assert not (internal / "tkinter").exists()
    if (ROOT / "resources" / "models" / "default.pt").is_file():
        assert (internal / "resources" / "models" / "default.pt").is_file()


def test_bundle_self_test_from_elsewhere(bundle, tmp_path, tiny_checkpoint):
    env = {} if (bundle.parent / "_internal/resources/models/default.pt").is_file() else {
        "EMBRYOGRADE_MODEL": str(tiny_checkpoint)}
    p = _run(bundle, "--self-test", cwd=tmp_path, **env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "frozen bundle" in p.stdout and "self-test PASSED" in p.stdout


@pytest.mark.parametrize("command", ["train", "synth", "grade", "predict"])
def test_bundle_subcommand_help(bundle, tmp_path, command):
    p = _run(bundle, command, "--help", cwd=tmp_path, timeout=180)
    assert p.returncode == 0, p.stderr
    assert "usage:" in p.stdout


def test_bundle_synth_writes_images(bundle, tmp_path):
    p = _run(bundle, "synth", "--out", str(tmp_path / "s"), "--n", "2", "--size", "128", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert len(list((tmp_path / "s").rglob("*.png"))) >= 2


def test_bundle_trains_with_spawned_workers(bundle, tmp_path):
    """Fine-tuning in the bundle with DataLoader workers started the Windows/macOS way."""
    out = tmp_path / "run"
    p = _run(bundle, "train", "--data", "synth:4", "--out", str(out), "--epochs", "1", "--steps", "1",
             "--input-size", "64", "--width", "0.125", "--depth", "18", "--batch-size", "2",
             "--workers", "1", "--val-synthetic", "2", "--no-bar", cwd=tmp_path, timeout=900,
             EMBRYOGRADE_MP_START="spawn")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert (out / "best.pt").is_file() or (out / "last.pt").is_file()


def test_bundle_window_starts_offscreen(bundle, tmp_path):
    """PySide6, pyqtgraph and the Qt plugins load in the bundle: the window keeps running.

    There is no quit-after-start option, so 'still running after 60 s with no
    traceback' is the pass mark; the spec's Qt exclusions break exactly here.
    """
    p = subprocess.Popen([str(bundle), "gui"], cwd=tmp_path, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         env=_bundle_env(EMBRYOGRADE_DATA_DIR=str(tmp_path / "data"),
                                         XDG_CONFIG_HOME=str(tmp_path / "config")))
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.terminate()
        _, err = p.communicate(timeout=30)
        assert "Traceback" not in err, err[-3000:]
        return
    out, err = p.communicate()
    pytest.fail(f"the window exited with {p.returncode}: {err[-3000:]}")


def test_bundle_carries_the_lab_server(bundle, tmp_path):
    """psycopg's binary libpq and the SQL migrations are in the bundle: `server init` from the frozen
    app initialises a real throwaway cluster (tests/pg_cluster.py), `server status` reads it back."""
    from tests.pg_cluster import find_bindir, start_cluster

    assert (bundle.parent / "_internal" / "app" / "core" / "server_sql" / "0001_initial.sql").is_file()
    if find_bindir() is None:
        pytest.skip("no PostgreSQL binaries to check the frozen psycopg against")
    cluster = start_cluster()
    try:
        import psycopg

        with psycopg.connect(cluster.url(cluster.SUPERUSER, "postgres"), autocommit=True) as su:
            su.execute("CREATE ROLE lab_owner LOGIN CREATEROLE")
            su.execute('CREATE DATABASE "frozenlab" OWNER lab_owner')
        url = cluster.url("lab_owner", "frozenlab")
        p = _run(bundle, "server", "init", url, cwd=tmp_path, timeout=180)
        assert p.returncode == 0, p.stdout + p.stderr
        p = _run(bundle, "server", "status", url, cwd=tmp_path, timeout=180,
                 EMBRYOGRADE_DATA_DIR=str(tmp_path / "data"))
        assert p.returncode == 0 and "schema version 1" in p.stdout + p.stderr, p.stdout + p.stderr
    finally:
        cluster.destroy()
