"""Writing a file so that it is either the old one or the whole new one, never half.

The files the app writes from bytes in memory (reports, registry entries,
labelme JSON, the annotation store's journal, the result cache) go through
here: a unique temporary name in the same folder, the bytes, ``fsync``, then
``os.replace`` over the target and an ``fsync`` of the folder so the rename
itself survives a power cut. A failure at any step removes the temporary
file and re-raises: what was saved before stays as it was.

Files that a library writes to a path follow the same steps where they are
written: the store's compaction (h5py) and ``model/checkpoint.py``
(``torch.save``; ``model/`` must not import ``app/``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def fsync_dir(folder: str | os.PathLike) -> None:
    # A rename is durable only once the directory entry is; Windows cannot open folders.
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_bytes(path: str | os.PathLike, data: bytes, temp_prefix: str = ".", durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically.

    ``temp_prefix`` starts the temporary file's name, so readers of a folder
    can skip files in flight. ``durable=False`` skips the two fsyncs, for
    caches that can be rebuilt (the swap is still atomic).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o644  # mkstemp's 0600 would hide a lab share's files from colleagues
    fd, tmp = tempfile.mkstemp(prefix=f"{temp_prefix}{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            try:
                os.chmod(tmp, mode)
            except OSError:
                pass  # some shares (SMB, FAT) refuse chmod: the save matters more than the mode
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def write_text(path: str | os.PathLike, text: str, durable: bool = True) -> None:
    """UTF-8, line endings exactly as given (no translation on Windows)."""
    write_bytes(path, text.encode("utf-8"), durable=durable)
