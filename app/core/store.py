"""The crash-safe, append-only HDF5 annotation store (Qt-free).

One store per image folder, ``<folder>/.embryograde/annotations.h5`` by
default. Every save appends one :class:`Revision`; nothing is overwritten.
A save is one small journal file written atomically next to the main file
(``annotations.h5.journal/``), so a kill at any instant loses at most the save
in flight and a save costs the same whatever the store's size; ``compact()``
folds the journal into a new main file swapped in by rename. Design and
measurements: ``docs/adr/0002-annotation-store.md``; schema:
``docs/annotation-store.md``.

The GUI calls ``AnnotationStore.for_folder(folder)``, ``append`` from its
worker thread (the object is thread-safe), shows ``recovery_message()`` when
not empty, and ``close()`` on exit. Training reads with ``readonly=True`` and
:func:`iter_training_samples`.
"""

from __future__ import annotations

import dataclasses
import io
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from app.core.imaging import read_image, sha256_file
from app.core.store_files import (
    LockFile,
    RecoveryEvent,
    StoreDamagedError,
    StoreLockedError,
    StoreWriteError,
    atomic_write_bytes,
    describe_os_error,
    fsync_dir,
    fsync_file,
    move_aside,
    reason_of,
    remove_temp_files,
)
from app.core.store_format import (
    GRADE_REASONS,
    LABEL_STATUSES,
    SCHEMA_VERSION,
    STATUSES,
    Revision,
    RevisionError,
    StoreError,
    StoreFormatError,
    check_root_attrs,
    embryo_key,
    group_name,
    new_uuid,
    read_arrays,
    read_meta,
    relative_path,
    utc_now_iso,
    validate,
    validate_image,
    write_compacted,
    write_image,
    write_revision,
    write_root_attrs,
)
from app.core.store_training import TrainingSample, iter_training_samples
from app.version import __version__

__all__ = ["GRADE_REASONS", "SCHEMA_VERSION", "STATUSES", "AnnotationStore", "RecoveryEvent",
           "Revision", "RevisionError", "StoreDamagedError", "StoreError", "StoreLockedError",
           "StoreWriteError", "TrainingSample", "default_store_path", "embryo_key",
           "iter_training_samples"]

STORE_NAME = "annotations.h5"


@dataclass
class _Ref:
    rev: Revision  # metadata only; arrays are read on demand
    source: Path  # the file holding the revision group (main file or a journal entry)


def default_store_path(folder: str | os.PathLike) -> Path:
    from app.core.project_dir import project_dir

    return project_dir(folder) / STORE_NAME


def _h5open(path: Path) -> h5py.File:
    # HDF5's own flock would make a reader block the writer's rename on some systems.
    return h5py.File(path, "r", locking=False)


class AnnotationStore:
    def __init__(
        self,
        path: str | os.PathLike,
        folder: str | os.PathLike | None = None,
        *,
        readonly: bool = False,
        compact_every: int = 200,
    ) -> None:
        self.path = Path(path).absolute()
        if folder is None:
            parent = self.path.parent
            folder = parent.parent if parent.name == ".embryograde" else parent
        self.folder = Path(folder).absolute()
        self.journal_dir = self.path.with_name(self.path.name + ".journal")
        self.readonly = readonly
        self.compact_every = compact_every
        self.recovery: list[RecoveryEvent] = []
        self.last_compaction_error: str | None = None
        self._lock = threading.RLock()
        self._main: h5py.File | None = None
        self._lockfile: LockFile | None = None
        self._closed = False
        if readonly:
            if not self.path.exists() and not self.journal_dir.is_dir():
                raise FileNotFoundError(f"no annotation store at {self.path}")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lockfile = LockFile(self.path.with_name(self.path.name + ".lock"))
            self._lockfile.acquire()
            if self._lockfile.stale_taken_over:
                self.recovery.append(RecoveryEvent(
                    "stale-lock", str(self._lockfile.path), None,
                    f"left by {self._lockfile.stale_taken_over}, which is no longer running"))
        try:
            if not readonly:
                remove_temp_files(self.path.parent)
                remove_temp_files(self.journal_dir)
                if not self.journal_dir.is_dir():
                    self.journal_dir.mkdir()
                    fsync_dir(self.path.parent)
            self._load()
            if not readonly and self.compact_every and len(self._journal) >= self.compact_every:
                self._try_compact()
        except BaseException:
            self._release()
            raise

    @classmethod
    def for_folder(cls, folder: str | os.PathLike, **kwargs) -> AnnotationStore:
        return cls(default_store_path(folder), folder, **kwargs)

    # ---- opening and indexing -------------------------------------------------

    def _load(self) -> None:
        self._refs: dict[str, list[_Ref]] = {}
        self._uuids: set[str] = set()
        self._images: dict[str, tuple[Path, tuple[int, ...]]] = {}
        self._journal: list[Path] = []
        self._max_seq = 0
        self._open_main()
        self._scan_journal()

    @staticmethod
    def _index_file(f: h5py.File, source: Path) -> tuple[list[_Ref], dict]:
        refs = [_Ref(read_meta(g), source) for g in f.get("revisions", {}).values()]
        images = {sha: (source, ds.shape) for sha, ds in f.get("images", {}).items()}
        return refs, images

    def _merge(self, refs: list[_Ref], images: dict) -> None:
        touched = set()
        for ref in refs:
            self._refs.setdefault(ref.rev.sha256, []).append(ref)
            self._uuids.add(ref.rev.uuid)
            self._max_seq = max(self._max_seq, ref.rev.seq)
            touched.add(ref.rev.sha256)
        for sha, v in images.items():
            self._images.setdefault(sha, v)
        for sha in touched:  # only these changed: a save must not cost O(store size)
            self._refs[sha].sort(key=lambda r: r.rev.seq)

    def _open_main(self) -> None:
        if not self.path.exists():
            if not self.readonly:
                self._write_empty_main()
            else:
                return
        try:
            if self.path.stat().st_size == 0:
                raise StoreFormatError("the file is empty (0 bytes)")
            f = _h5open(self.path)
            try:
                check_root_attrs(f, self.path.name)
                refs, images = self._index_file(f, self.path)
            except BaseException:
                f.close()
                raise
        except Exception as exc:
            reason = reason_of(exc)
            if self.readonly:
                raise StoreDamagedError(f"{self.path}: damaged or unreadable store: {reason}") from exc
            moved = move_aside(self.path)
            self.recovery.append(RecoveryEvent("main-damaged", str(self.path), str(moved), reason))
            self._write_empty_main()
            f = _h5open(self.path)
            refs, images = [], {}
        self._main = f
        self._merge(refs, images)

    def _write_empty_main(self) -> None:
        bio = io.BytesIO()
        with h5py.File(bio, "w") as f:
            write_root_attrs(f, "main", __version__)
            f.create_group("images")
            f.create_group("revisions")
        atomic_write_bytes(self.path, bio.getvalue())

    def _scan_journal(self) -> None:
        if not self.journal_dir.is_dir():
            return
        entries = sorted(p for p in self.journal_dir.iterdir()
                         if p.suffix == ".h5" and not p.name.startswith("."))
        for p in entries:
            try:
                with _h5open(p) as f:
                    check_root_attrs(f, p.name)
                    refs, images = self._index_file(f, p)
            except FileNotFoundError:
                continue  # folded in by a writer while a read-only store scanned
            except Exception as exc:
                moved = None if self.readonly else str(move_aside(p))
                self.recovery.append(RecoveryEvent("journal-damaged", str(p), moved, reason_of(exc)))
                continue
            if refs and all(r.rev.uuid in self._uuids for r in refs):
                # A compaction was killed after its rename: the main file has these already.
                if not self.readonly:
                    p.unlink(missing_ok=True)
                continue
            self._merge(refs, images)
            self._journal.append(p)

    def refresh(self) -> None:
        """Re-read main file and journal (a read-only store sees the writer's new saves)."""
        with self._lock:
            self._close_main()
            self._load()

    # ---- writing ---------------------------------------------------------------

    def append(self, rev: Revision, image: np.ndarray | None = None) -> int:
        """Store one revision durably; returns its sequence number.

        ``image`` (the pixels) is needed the first time a sha is stored, else it
        is read from ``folder/rev.path``. The caller's object is not modified.
        """
        with self._lock:
            self._check_writable()
            rev = dataclasses.replace(rev, extra=dict(rev.extra))
            rev.path = relative_path(rev.path, self.folder)
            need_image = rev.sha256 not in self._images
            if need_image:
                if image is None:
                    image = self._read_folder_image(rev)
                validate_image(image)
                shape = image.shape
            else:
                shape = self._images[rev.sha256][1]
            validate(rev, shape)
            rev.uuid = rev.uuid or new_uuid()
            if rev.uuid in self._uuids:
                raise RevisionError(f"revision {rev.uuid} is already stored")
            rev.seq = self._max_seq + 1
            rev.time_utc = rev.time_utc or utc_now_iso()
            rev.app_version = rev.app_version or __version__
            bio = io.BytesIO()
            with h5py.File(bio, "w") as f:
                write_root_attrs(f, "journal-entry", __version__)
                write_revision(f, rev)
                if need_image:
                    write_image(f, rev.sha256, image, rev.path)
            entry = self.journal_dir / f"{group_name(rev)}.h5"
            atomic_write_bytes(entry, bio.getvalue())
            meta = dataclasses.replace(rev, mask=None, model_mask=None)
            self._merge([_Ref(meta, entry)], {rev.sha256: (entry, shape)} if need_image else {})
            self._journal.append(entry)
            if self.compact_every and len(self._journal) >= self.compact_every:
                self._try_compact()
            return rev.seq

    def _try_compact(self) -> None:
        # The saves are already durable in the journal; a failed compaction only costs speed.
        try:
            self.compact()
            self.last_compaction_error = None
        except StoreError as exc:
            self.last_compaction_error = str(exc)

    def compact(self) -> None:
        """Fold the journal into a new main file (temp name, fsync, rename), then drop it."""
        with self._lock:
            self._check_writable()
            if not self._journal:
                return
            tmp = self.path.with_name(f"{self.path.name}.tmp-{new_uuid()}")
            try:
                write_compacted(tmp, self._main, self._journal, __version__)
                fsync_file(tmp)
                self._close_main()
                os.replace(tmp, self.path)
            except Exception as exc:
                tmp.unlink(missing_ok=True)
                self._reopen_main()
                msg = describe_os_error(exc, tmp) if isinstance(exc, OSError) else str(exc)
                raise StoreWriteError(getattr(exc, "errno", None),
                                      "compaction postponed (the journal keeps every save): "
                                      + msg) from exc
            fsync_dir(self.path.parent)
            self._reopen_main()
            folded = set(self._journal)
            for p in self._journal:
                p.unlink(missing_ok=True)
            fsync_dir(self.journal_dir)
            self._journal = []
            for lst in self._refs.values():
                for ref in lst:
                    if ref.source in folded:
                        ref.source = self.path
            self._images = {sha: (self.path, shape) for sha, (_, shape) in self._images.items()}

    def _reopen_main(self) -> None:
        self._close_main()
        self._main = _h5open(self.path)

    def _close_main(self) -> None:
        if self._main is not None:
            self._main.close()
            self._main = None

    def _check_writable(self) -> None:
        if self._closed:
            raise StoreError("the annotation store is closed")
        if self.readonly:
            raise StoreError("the annotation store was opened read-only")

    def _read_folder_image(self, rev: Revision) -> np.ndarray:
        p = Path(rev.path) if Path(rev.path).is_absolute() else self.folder / rev.path
        if not p.is_file():
            raise RevisionError(f"the first save of {rev.path} needs the image pixels")
        if sha256_file(p) != rev.sha256:
            raise RevisionError(f"{p} changed on disk: its SHA-256 no longer matches")
        return read_image(p)

    # ---- reading ---------------------------------------------------------------

    def _read(self, ref: _Ref, arrays: bool) -> Revision:
        rev = dataclasses.replace(ref.rev, extra=dict(ref.rev.extra))
        if not arrays:
            return rev
        group = f"/revisions/{group_name(rev)}"
        if ref.source == self.path and self._main is not None:
            return read_arrays(self._main[group], rev)
        with _h5open(ref.source) as f:
            return read_arrays(f[group], rev)

    def _with_retry(self, fn):
        # A read-only store may find a journal entry folded away by the writer meanwhile.
        try:
            return fn()
        except FileNotFoundError:
            if not self.readonly:
                raise
            self.refresh()
            return fn()

    def current_nowait(self, sha: str) -> Revision | None:
        # A local file is read without waiting on anyone (readers take no lock, ADR 0002);
        # only the lab server's store can answer NotLoaded (store_api).
        return self.current(sha)

    def current(self, sha: str, masks: bool = True) -> Revision | None:
        with self._lock:
            refs = self._refs.get(sha)
            return self._with_retry(lambda: self._read(self._refs[sha][-1], masks)) if refs else None

    def history(self, sha: str, masks: bool = True) -> list[Revision]:
        """Every revision of one image, oldest first (the last is current)."""
        with self._lock:
            if sha not in self._refs:
                return []
            return self._with_retry(lambda: [self._read(r, masks) for r in self._refs[sha]])

    def current_all(self, masks: bool = True) -> dict[str, Revision]:
        with self._lock:
            return {sha: self.current(sha, masks) for sha in self.shas()}

    def shas(self) -> list[str]:
        """Image hashes with at least one revision, by path."""
        with self._lock:
            return sorted(self._refs, key=lambda s: (self._refs[s][-1].rev.path, s))

    def revision_count(self, sha: str) -> int:
        with self._lock:
            return len(self._refs.get(sha, ()))

    def __len__(self) -> int:
        with self._lock:
            return len(self._refs)

    def __contains__(self, sha: object) -> bool:
        with self._lock:
            return sha in self._refs

    @property
    def journal_size(self) -> int:
        return len(self._journal)

    def has_image(self, sha: str) -> bool:
        with self._lock:
            return sha in self._images

    def image(self, sha: str) -> np.ndarray:
        """The stored pixels; falls back to the folder's file if it still has that hash."""
        with self._lock:
            if sha in self._images:
                def read():
                    source = self._images[sha][0]
                    if source == self.path and self._main is not None:
                        return self._main["images"][sha][()]
                    with _h5open(source) as f:
                        return f["images"][sha][()]
                return self._with_retry(read)
            refs = self._refs.get(sha)
            if refs:
                p = self.folder / refs[-1].rev.path
                if p.is_file() and sha256_file(p) == sha:
                    return read_image(p)
            raise KeyError(f"no pixels stored for image {sha[:12]}")

    def recovery_message(self) -> str:
        """One line per thing done at open about damage ('' when the store was healthy)."""
        return "\n".join(str(e) for e in self.recovery if e.kind != "stale-lock")

    @property
    def damaged(self) -> bool:
        return any(e.kind != "stale-lock" for e in self.recovery)

    def training_samples(self, statuses: tuple[str, ...] = LABEL_STATUSES) -> Iterator[TrainingSample]:
        return iter_training_samples(self, statuses)

    # ---- closing ---------------------------------------------------------------

    def close(self, compact: bool = True) -> None:
        """Compact (unless told not to), close the file and release the lock. Idempotent."""
        with self._lock:
            if self._closed:
                return
            if compact and not self.readonly:
                self._try_compact()
            self._release()

    def _release(self) -> None:
        self._closed = True
        self._close_main()
        if self._lockfile is not None:
            self._lockfile.release()

    def __enter__(self) -> AnnotationStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._closed:
                self._release()
        except Exception:
            pass
