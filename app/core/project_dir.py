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
import tempfile
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
    """Can a file be created there? Tried, not asked: ``os.access`` says yes to
    root everywhere and can be wrong on network shares (NFS root squash, SMB ACLs)."""
    target = folder / PROJECT_DIRNAME
    probe_in = target if target.is_dir() else folder
    try:
        fd, probe = tempfile.mkstemp(prefix=".embryograde-probe-", dir=probe_in)
    except OSError:
        return False
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass
    return True


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
