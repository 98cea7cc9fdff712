"""Where a folder's project data lives (result cache, annotation store).

By default inside the folder, ``<folder>/.embryograde``, so the data moves
with the images. When the folder is read-only (the bundled demo images of an
installed app, a mounted share), a per-user location keyed by the folder's
absolute path is used instead.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

PROJECT_DIRNAME = ".embryograde"


def user_data_root() -> Path:
    override = os.environ.get("EMBRYOGRADE_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "EmbryoGrade"


def _writable(folder: Path) -> bool:
    target = folder / PROJECT_DIRNAME
    if target.is_dir():
        return os.access(target, os.W_OK)
    return os.access(folder, os.W_OK)


def project_dir(folder: str | os.PathLike, create: bool = True) -> Path:
    folder = Path(folder).resolve()
    if _writable(folder):
        path = folder / PROJECT_DIRNAME
    else:
        key = hashlib.sha256(str(folder).encode("utf-8")).hexdigest()[:16]
        path = user_data_root() / "projects" / f"{folder.name}-{key}"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
