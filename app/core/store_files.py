"""File-system primitives of the annotation store: atomic writes, the lock, moving aside.

Kept apart from the HDF5 logic so the crash-safety rules are in one short
place: a file becomes visible under its final name only complete and on
disk (write temp, fsync, rename, fsync the folder), and nothing the store
cannot read is ever overwritten or deleted, only renamed.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from app.core import atomic
from app.core.atomic import fsync_dir
from app.core.store_format import StoreError, StoreFormatError

TEMP_PREFIX = ".tmp-"


class StoreWriteError(StoreError, OSError):
    """A save that did not reach the disk; everything saved before is intact."""


class StoreLockedError(StoreError):
    """Another process (or another store object here) has the store open for writing."""


def atomic_write_bytes(final: Path, data: bytes) -> None:
    """Write ``final`` so that it is either absent or complete, even across kill -9."""
    try:
        atomic.write_bytes(final, data, temp_prefix=TEMP_PREFIX)
    except OSError as exc:
        raise StoreWriteError(exc.errno, describe_os_error(exc, final)) from exc


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def describe_os_error(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"disk full while writing {path}: this save was not stored; earlier saves are intact"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write {path}: this save was not stored; earlier saves are intact"
    return f"cannot write {path} ({exc.strerror or exc}): this save was not stored; earlier saves are intact"


def utc_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def move_aside(path: Path) -> Path:
    """Rename a damaged file next to itself, untouched, under a name no reader picks up."""
    target = path.with_name(f"{path.name}.damaged-{utc_stamp()}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.damaged-{utc_stamp()}-{n}")
        n += 1
    os.rename(path, target)
    fsync_dir(path.parent)
    return target


def remove_temp_files(folder: Path) -> list[Path]:
    """Delete unfinished temp files of killed saves/compactions (never renamed, so never data)."""
    removed = []
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(TEMP_PREFIX) or ".h5.tmp-" in p.name:
                try:
                    p.unlink()
                    removed.append(p)
                except OSError:
                    pass
    return removed


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)
        if handle:
            ctypes.windll.kernel32.CloseHandle(handle)
            return True
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LockFile:
    """``<store>.lock`` holding ``pid host``: tells a second writer who has the store.

    A lock left by a dead process (kill -9, power loss) is stale and taken over.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stale_taken_over: str | None = None
        self._held = False

    def acquire(self) -> None:
        me = f"{os.getpid()} {socket.gethostname()}\n"
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = self._read_owner()
                if owner is None:
                    continue  # vanished or half-written: try again
                pid, host = owner
                if host == socket.gethostname() and not _pid_alive(pid):
                    self.stale_taken_over = f"pid {pid} on {host}"
                    self.path.unlink(missing_ok=True)
                    continue
                if pid == os.getpid() and host == socket.gethostname():
                    raise StoreLockedError(f"{self.path.parent}: this store is already open in this process") from None
                raise StoreLockedError(
                    f"the annotation store {self.path.with_suffix('')} is in use by process {pid} "
                    f"on {host}; close EmbryoGrade there first (if that process is gone, delete "
                    f"{self.path})"
                ) from None
            try:
                os.write(fd, me.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            self._held = True
            return
        raise StoreLockedError(f"cannot take the lock {self.path}")

    def _read_owner(self) -> tuple[int, str] | None:
        try:
            text = self.path.read_text().split()
        except FileNotFoundError:
            return None
        except OSError:
            return (-1, "")
        if len(text) < 2 or not text[0].isdigit():
            return (-1, socket.gethostname())  # unreadable content: treat as stale
        return int(text[0]), text[1]

    def release(self) -> None:
        if self._held:
            self._held = False
            try:
                self.path.unlink()
            except OSError:
                pass


class StoreDamagedError(StoreError):
    """A read-only open found a damaged main file (a writer would move it aside)."""


@dataclass(frozen=True)
class RecoveryEvent:
    """What the store did at open about a damaged or leftover file, for the GUI/CLI to show."""

    kind: str  # "main-damaged", "journal-damaged", "stale-lock"
    path: str
    moved_to: str | None
    reason: str

    def __str__(self) -> str:
        where = f", moved aside untouched to {self.moved_to}" if self.moved_to else ""
        return f"{self.kind}: {self.path}: {self.reason}{where}"


def reason_of(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, StoreFormatError):
        return text
    if "truncated" in text.lower():
        return f"the file is truncated ({text})"
    if "signature" in text.lower():
        return f"not an HDF5 file ({text})"
    return f"unreadable ({text})"
