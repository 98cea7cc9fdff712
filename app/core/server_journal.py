"""The workstation's journal of corrections the lab server has not received yet. Qt-free.

While the server is unreachable every save becomes one file here, written
atomically (``app.core.atomic``) in the annotation store's own journal-entry
layout (``store_format``: one revision group, the image pixels when the
server may not have them). Names start with a nanosecond clock so that the
sort order is the save order; ``drain`` sends them oldest first and deletes
each one only after the server committed it. The revision's uuid is unique
on the server, so an entry sent twice (a crash between commit and delete)
is stored once.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from app.core.atomic import fsync_dir
from app.core.project_dir import user_data_root
from app.core.store_files import atomic_write_bytes, remove_temp_files
from app.core.store_format import (
    Revision,
    check_root_attrs,
    read_arrays,
    read_meta,
    write_image,
    write_revision,
    write_root_attrs,
)
from app.version import __version__


@dataclass
class Pending:
    """One save waiting for the server: what ``ServerStore`` would have sent at once."""

    rev: Revision
    image: np.ndarray | None
    location: dict  # workstation, path (absolute on this workstation), size_bytes
    base_seq: int | None  # the image's current revision as this workstation knew it


def journal_dir_for(redacted_url: str) -> Path:
    key = hashlib.sha256(redacted_url.encode("utf-8")).hexdigest()[:16]
    return user_data_root() / "lab-server-journal" / key


class ServerJournal:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        remove_temp_files(self.folder)
        self._last_ns = 0

    def entries(self) -> list[Path]:
        return sorted(p for p in self.folder.glob("*.h5") if not p.name.startswith("."))

    def __len__(self) -> int:
        return len(self.entries())

    def add(self, item: Pending) -> Path:
        # Strictly increasing even when the clock repeats a value or steps back.
        self._last_ns = max(time.time_ns(), self._last_ns + 1)
        bio = io.BytesIO()
        with h5py.File(bio, "w") as f:
            write_root_attrs(f, "journal-entry", __version__)
            write_revision(f, item.rev)
            if item.image is not None:
                write_image(f, item.rev.sha256, item.image, item.rev.path)
            f.attrs["location"] = json.dumps(item.location)
            f.attrs["base_seq"] = -1 if item.base_seq is None else item.base_seq
        path = self.folder / f"{self._last_ns:020d}-{item.rev.uuid}.h5"
        atomic_write_bytes(path, bio.getvalue())
        return path

    @staticmethod
    def read(path: Path) -> Pending:
        with h5py.File(path, "r", locking=False) as f:
            check_root_attrs(f, path.name)
            (group,) = f["revisions"].values()
            rev = read_arrays(group, read_meta(group))
            images = f.get("images", {})
            image = images[rev.sha256][()] if rev.sha256 in images else None
            base = int(f.attrs.get("base_seq", -1))
            return Pending(rev, image, json.loads(f.attrs["location"]), None if base < 0 else base)

    def set_aside(self, path: Path) -> Path:
        """An entry the server refused or that cannot be read: kept, untouched, out of the queue."""
        target = path.with_name(path.name + ".refused")
        path.rename(target)
        fsync_dir(self.folder)
        return target

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        fsync_dir(self.folder)
