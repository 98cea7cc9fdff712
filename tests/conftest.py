"""Shared fixtures: a tiny real model, the shared real frames, CPU threads."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep the user's model registry and per-user project data out of the tests
# (subprocesses inherit this too).
import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

os.environ["EMBRYOGRADE_DATA_DIR"] = tempfile.mkdtemp(prefix="embryograde-test-data-")
atexit.register(shutil.rmtree, os.environ["EMBRYOGRADE_DATA_DIR"], ignore_errors=True)
os.environ.pop("EMBRYOGRADE_MODEL", None)

import torch  # noqa: E402  (torch before any Qt import, as in main.py)

torch.set_num_threads(1)

REAL_DATA = ROOT.parent / "shared" / "data" / "cleavage-embryo"


@pytest.fixture(autouse=True)
def _automatic_gc_outside_qt(request):
    """A window turns Python's automatic collection off for the process (app/gui/gui_gc.py)
    and collects on its event loop; tests without an event loop get automatic collection back."""
    gui_gc = sys.modules.get("app.gui.gui_gc")
    if gui_gc is not None and not {"qtbot", "qapp"} & set(request.fixturenames):
        gui_gc.release()
    yield


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not (REAL_DATA / "images").is_dir():
        pytest.skip(f"real frames not present at {REAL_DATA}")
    return REAL_DATA


@pytest.fixture(scope="session")
def tiny_config():
    from model.config import named_config

    return named_config("attnregdeeplab", width=0.125, input_size=64)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_config) -> Path:
    """A real (untrained, seeded) checkpoint of the tiny configuration."""
    from model.checkpoint import save_checkpoint
    from model.network import AttnRegDeepLab

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny.pt"
    save_checkpoint(path, AttnRegDeepLab(tiny_config), {"training_data": "none (test fixture)"})
    return path
