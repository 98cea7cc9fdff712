"""Where the app's read-only files are, from the repository and from a frozen bundle. Qt-free.

A PyInstaller one-folder bundle unpacks nothing: ``sys._MEIPASS`` is the
bundle's contents folder (``EmbryoGrade/_internal`` on Linux and Windows,
``EmbryoGrade.app/Contents/Frameworks`` on macOS) and holds ``resources/``
with the same layout as the repository, so one relative path serves both.
Paths computed from ``__file__`` happen to work in a one-folder bundle too,
but not in a macOS .app (data lives under Contents/Resources, reached by
links) nor if the bundle ever moves modules into an archive: ask here.

Nothing here is writable in an installed app (Program Files, a signed .app):
project data goes to ``app.core.project_dir``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]
RESOURCES_DIRNAME = "resources"
DEFAULT_MODEL = "models/default.pt"  # relative to resources/
SAMPLES = "samples"
ICONS = "icons"

# An explicit checkpoint for the model-less situations: a fresh clone before
# the default model is trained, the tests (tiny model), a lab's own model.
MODEL_ENV = "EMBRYOGRADE_MODEL"
# The Windows console twin of the windowed EmbryoGrade.exe (installers/embryograde.spec).
WINDOWS_CLI_EXE = "EmbryoGrade-cli.exe"


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def bundle_root() -> Path:
    """The folder that holds ``resources/``: the bundle's contents folder, or the repository."""
    if is_frozen():
        meipass = getattr(sys, "_MEIPASS", None)
        return Path(meipass) if meipass else Path(sys.executable).resolve().parent
    return _REPO_ROOT


def resources_dir() -> Path:
    return bundle_root() / RESOURCES_DIRNAME


def resource_path(relative: str | os.PathLike) -> Path:
    """``resources/<relative>`` of this installation, e.g. ``resource_path("models/default.pt")``.

    The path is not checked: the default model in particular may be absent
    (a checkout before training, a bundle built without it).
    """
    rel = Path(relative)
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"{relative!s}: not a path inside resources/")
    return resources_dir() / rel


def bundled_model_path() -> Path:
    """The default model shipped with the app (may not exist)."""
    return resource_path(DEFAULT_MODEL)


def model_override() -> Path | None:
    """``$EMBRYOGRADE_MODEL`` when set: the checkpoint that wins over every default."""
    override = os.environ.get(MODEL_ENV, "").strip()
    return Path(override).expanduser() if override else None


def default_model_path() -> Path:
    """The checkpoint to use when none is chosen: ``$EMBRYOGRADE_MODEL``, else the bundled one."""
    return model_override() or bundled_model_path()


def demo_images_dir() -> Path:
    """The synthetic demo images (read-only when installed; project data then goes per user)."""
    return resource_path(SAMPLES)


def icons_dir() -> Path:
    return resource_path(ICONS)


def app_command(*args: str) -> list[str]:
    """The command line that runs this app's CLI with ``args`` in a new process.

    For the fine-tuning subprocess: ``subprocess.Popen(app_command("train", ...))``.
    A frozen app has no separate Python: the executable itself takes the
    sub-command. On Windows the windowed EmbryoGrade.exe has no usable
    stdout, so its console twin is used when present; pass
    ``creationflags=subprocess.CREATE_NO_WINDOW`` there to hide its console.
    """
    if not is_frozen():
        return [sys.executable, str(_REPO_ROOT / "main.py"), *args]
    exe = Path(sys.executable)
    if sys.platform == "win32":
        cli = exe.with_name(WINDOWS_CLI_EXE)
        if cli.is_file():
            exe = cli
    return [str(exe), *args]
