"""One annotation-store interface, two stores behind it: the folder's HDF5 file or the lab server.

A store is named by a path (``.../annotations.h5``) or by a connection URL
(``postgresql://host/db``); ``open_store`` returns the right one, and the GUI,
the CLI and the fine-tune loop use only the methods of ``Store``. Qt-free;
psycopg is imported only when a URL is opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from app.core.store_format import LABEL_STATUSES, Revision, StoreError
from app.core.store_training import TrainingSample

URL_PREFIXES = ("postgresql://", "postgres://")


def is_server_url(spec: object) -> bool:
    return isinstance(spec, str) and spec.startswith(URL_PREFIXES)


class NotLoaded(StoreError):
    """``current_nowait``: the answer needs the lab server; ask ``current`` from a worker."""


@runtime_checkable
class Store(Protocol):
    folder: Path
    recovery: list

    def append(self, rev: Revision, image: np.ndarray | None = None) -> int: ...
    def current(self, sha: str, masks: bool = True) -> Revision | None: ...
    def current_nowait(self, sha: str) -> Revision | None: ...  # GUI thread; may raise NotLoaded
    def history(self, sha: str, masks: bool = True) -> list[Revision]: ...
    def current_all(self, masks: bool = True) -> dict[str, Revision]: ...
    def shas(self) -> list[str]: ...
    def revision_count(self, sha: str) -> int: ...
    def has_image(self, sha: str) -> bool: ...
    def image(self, sha: str) -> np.ndarray: ...
    def training_samples(self, statuses: tuple[str, ...] = LABEL_STATUSES) -> Iterator[TrainingSample]: ...
    def recovery_message(self) -> str: ...
    def refresh(self) -> None: ...
    def close(self, compact: bool = True) -> None: ...
    def __len__(self) -> int: ...
    def __contains__(self, sha: object) -> bool: ...


def describe(spec: str | os.PathLike) -> str:
    """The store's name for messages (a URL without its password)."""
    if is_server_url(str(spec)):
        from app.core.server_schema import redact

        return redact(str(spec))
    return str(spec)


def open_store(spec: str | os.PathLike, folder: str | os.PathLike | None = None, *,
               readonly: bool = False, **kwargs) -> Store:
    """The store named by ``spec``: an HDF5 path or a ``postgresql://`` URL.

    ``folder`` is the image folder the revisions' relative paths refer to.
    Server-only keywords (``connect``, ``password``, ``ask_password``,
    ``journal_dir``, ``workstation``) are ignored by the HDF5 store, and the
    HDF5 ones (``compact_every``) by the server store.
    """
    if is_server_url(str(spec)):
        from app.core.server_store import ServerStore

        return ServerStore(str(spec), folder, readonly=readonly, **kwargs)
    from app.core.store import AnnotationStore

    hdf5_kw = {k: v for k, v in kwargs.items() if k == "compact_every"}
    return AnnotationStore(spec, folder, readonly=readonly, **hdf5_kw)


def open_for_folder(folder: str | os.PathLike, server_url: str | None = None, **kwargs) -> Store:
    """The store of an image folder: the lab server when one is set, else the folder's HDF5 file."""
    if server_url:
        return open_store(server_url, folder, **kwargs)
    from app.core.store import default_store_path

    return open_store(default_store_path(folder), folder, **kwargs)
