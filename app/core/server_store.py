"""The annotation store on the lab's PostgreSQL server (Qt-free); same API as ``AnnotationStore``.

One store for the whole lab: every workstation appends revisions; the server
names the annotator (``session_user``) and the time, numbers the revisions of
one image in commit order, and refuses updates and deletes
(``server_sql/0001_initial.sql``). This object keeps an index of the current
revision of every image (metadata only) and the masks of the folder's
images, so the review window reads from memory; ``sync()`` (from a worker)
reconnects, sends the local journal and refreshes the index.

When the server is unreachable, ``append`` writes the save to the local
journal (``server_journal.py``) instead of failing; ``status_message()`` says
so; the next successful ``append`` or ``sync`` sends the journal in order.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import socket
import threading
import uuid as uuidlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from app.core.imaging import read_image, sha256_file
from app.core.server_journal import Pending, ServerJournal, journal_dir_for
from app.core.server_rows import CURRENT, META, iso, pack, revision, unpack
from app.core.server_schema import ServerError, check_schema, connect, redact
from app.core.store_format import (
    LABEL_STATUSES,
    Revision,
    RevisionError,
    StoreError,
    new_uuid,
    relative_path,
    utc_now_iso,
    validate,
    validate_image,
)
from app.core.store_training import TrainingSample, iter_training_samples
from app.version import __version__


class ServerUnreachable(StoreError):
    """A read that needs the lab server while it cannot be reached."""


def _network(method):
    # Reads that need the server: a lost connection is a StoreError the callers already handle.
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except (psycopg.OperationalError, ServerError) as exc:
                self._lost(exc)
                raise ServerUnreachable(f"lab server {self.path} unreachable: {self.last_error}") from exc
    return wrapper


class ServerStore:
    """``ServerStore(url, folder)``; ``connect=False`` opens without touching the network
    (the GUI calls ``sync()`` from a worker)."""

    def __init__(self, url: str, folder: str | os.PathLike | None = None, *, readonly: bool = False,
                 connect: bool = True, password: str | None = None,
                 ask_password: Callable[[str], str | None] | None = None,
                 journal_dir: str | os.PathLike | None = None, workstation: str | None = None,
                 **_ignored) -> None:
        self.url = url
        self.path = redact(url)  # what messages show: never the password
        self.folder = Path(folder).absolute() if folder is not None else Path.cwd()
        self.readonly = readonly
        self.workstation = workstation or socket.gethostname()
        self.recovery: list = []  # the server has no damaged files to report
        self.notices: list[str] = []  # someone else's revision landed between our read and our save
        self.last_error: str | None = None
        self._password, self._ask = password, ask_password
        self._lock = threading.RLock()
        self._conn: psycopg.Connection | None = None
        self._closed = False
        self._index: dict[str, tuple[Revision, int]] = {}  # sha -> (current, revision count)
        self._masks: dict[int, tuple] = {}  # seq -> (mask, model_mask)
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._seen: dict[str, int] = {}  # sha -> seq of the revision last read here
        self._located: set[tuple[str, str]] = set()
        self.journal = None if readonly else ServerJournal(Path(journal_dir) if journal_dir
                                                           else journal_dir_for(self.path))
        if connect:
            self._connect()
            self._drain()
            self._load()

    # ---- connection ------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            conn = connect(self.url, self._password, self._ask, autocommit=True)
            try:
                check_schema(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    @property
    def online(self) -> bool:
        return self._conn is not None and not self._conn.closed and not self._conn.broken

    def _lost(self, exc: Exception) -> None:
        self.last_error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def sync(self) -> bool:
        """Reconnect if needed, send the journal, refresh the index; False while unreachable."""
        with self._lock:
            if self._closed:
                return False
            try:
                self._connect()
                self._drain()
                self._load()
                self.last_error = None
                return True
            except (psycopg.OperationalError, ServerError) as exc:
                self._lost(exc)
                return False

    def status_message(self) -> str:
        """'' when all is well; else one line for the status bar."""
        pending = len(self.journal) if self.journal is not None else 0
        if self.online and not pending:
            return ""
        if not self.online:
            kept = f"; {pending} correction(s) kept on this workstation, sent when it is back" if pending else ""
            return f"⚠ lab server {self.path} unreachable ({self.last_error or 'not connected'}){kept}"
        return f"lab server: {pending} correction(s) from this workstation not sent yet"

    def take_notices(self) -> list[str]:
        with self._lock:
            out, self.notices = self.notices, []
            return out

    # ---- reading ---------------------------------------------------------------------------
    def _load(self) -> None:
        index: dict[str, tuple[Revision, int]] = {}
        with self._conn.cursor() as cur:
            cur.execute(CURRENT.format(where=""))
            for row in cur:
                index[row[2]] = (revision(row), row[15])
            cur.execute("SELECT sha256, height, width, channels FROM images")
            self._shapes = {s: (h, w) if c == 1 else (h, w, 3) for s, h, w, c in cur}
            # The masks of this folder's images, so showing an image needs no round trip.
            cur.execute("SELECT DISTINCT ON (r.sha256) r.seq, r.mask, r.model_mask FROM revisions r "
                        "JOIN image_locations l USING (sha256) WHERE l.workstation = %s AND "
                        "starts_with(l.path, %s) ORDER BY r.sha256, r.seq DESC",
                        (self.workstation, self.folder.as_posix().rstrip("/") + "/"))
            rows = cur.fetchall()
        self._index = index
        for seq, mask, model_mask in rows:
            self._masks[seq] = (mask, model_mask)

    def refresh(self) -> None:
        self.sync()

    def _with_masks(self, rev: Revision) -> Revision:
        if rev.seq not in self._masks:
            with self._connect().cursor() as cur:
                cur.execute("SELECT mask, model_mask FROM revisions WHERE seq = %s", (rev.seq,))
                self._masks[rev.seq] = cur.fetchone()
        shape = self._shapes.get(rev.sha256, ())[:2]
        mask, model_mask = self._masks[rev.seq]
        return dataclasses.replace(rev, extra=dict(rev.extra), mask=unpack(mask, shape),
                                   model_mask=unpack(model_mask, shape))

    @_network
    def current(self, sha: str, masks: bool = True) -> Revision | None:
        with self._lock:
            if sha not in self._index:
                return None
            rev = self._index[sha][0]
            if not masks:
                return dataclasses.replace(rev, extra=dict(rev.extra))
            # What an editor starts from: a later save by someone else is then worth a notice.
            self._seen[sha] = rev.seq
            return self._with_masks(rev)

    @_network
    def history(self, sha: str, masks: bool = True) -> list[Revision]:
        """Every revision of one image, oldest first (the last is current)."""
        cols = META + (", mask, model_mask" if masks else "")
        with self._lock, self._connect().cursor() as cur:
            cur.execute(f"SELECT {cols} FROM revisions WHERE sha256 = %s ORDER BY seq", (sha,))
            out = []
            for row in cur.fetchall():
                rev = revision(row)
                if masks:
                    shape = self._shapes.get(sha, ())[:2]
                    rev.mask, rev.model_mask = unpack(row[15], shape), unpack(row[16], shape)
                out.append(rev)
            return out

    @_network
    def current_all(self, masks: bool = True) -> dict[str, Revision]:
        with self._lock:
            if masks:
                missing = [r.seq for r, _ in self._index.values() if r.seq not in self._masks]
                if missing:
                    with self._connect().cursor() as cur:
                        cur.execute("SELECT seq, mask, model_mask FROM revisions WHERE seq = ANY(%s)",
                                    (missing,))
                        for seq, m, mm in cur:
                            self._masks[seq] = (m, mm)
            return {sha: self.current(sha, masks) for sha in self.shas()}

    def shas(self) -> list[str]:
        with self._lock:
            return sorted(self._index, key=lambda s: (self._index[s][0].path, s))

    def revision_count(self, sha: str) -> int:
        with self._lock:
            return self._index[sha][1] if sha in self._index else 0

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, sha: object) -> bool:
        return sha in self._index

    def has_image(self, sha: str) -> bool:
        return sha in self._shapes

    @_network
    def image(self, sha: str) -> np.ndarray:
        with self._lock, self._connect().cursor() as cur:
            cur.execute("SELECT height, width, channels, dtype, pixels FROM images WHERE sha256 = %s", (sha,))
            row = cur.fetchone()
        if row is None:
            raise KeyError(f"no pixels stored for image {sha[:12]}")
        h, w, c, dtype, data = row
        return unpack(data, (h, w) if c == 1 else (h, w, 3), dtype)

    def training_samples(self, statuses: tuple[str, ...] = LABEL_STATUSES) -> Iterator[TrainingSample]:
        return iter_training_samples(self, statuses)

    def recovery_message(self) -> str:
        return ""

    @property
    def damaged(self) -> bool:
        return False

    @property
    def journal_size(self) -> int:
        return len(self.journal) if self.journal is not None else 0

    # ---- writing ---------------------------------------------------------------------------
    def append(self, rev: Revision, image: np.ndarray | None = None) -> int:
        """Store one revision; returns its server sequence number, or 0 when the server is
        unreachable and the save went to the local journal (durable there on return)."""
        with self._lock:
            if self._closed or self.readonly:
                raise StoreError("the annotation store is " + ("closed" if self._closed else "read-only"))
            rev = dataclasses.replace(rev, extra=dict(rev.extra))
            abs_path = Path(rev.path) if Path(rev.path).is_absolute() else self.folder / rev.path
            rev.path = relative_path(rev.path, self.folder)
            if rev.sha256 not in self._shapes:
                if image is None:
                    image = self._read_folder_image(abs_path, rev.sha256)
                validate_image(image)
                shape = image.shape
            else:
                shape, image = self._shapes[rev.sha256], None
            validate(rev, shape)
            rev.uuid = rev.uuid or new_uuid()
            rev.time_utc = rev.time_utc or utc_now_iso()
            rev.app_version = rev.app_version or __version__
            size = abs_path.stat().st_size if abs_path.is_file() else None
            known = self._index[rev.sha256][0].seq if rev.sha256 in self._index else None
            item = Pending(rev, image, {"workstation": self.workstation, "path": abs_path.as_posix(),
                                        "size_bytes": size}, self._seen.get(rev.sha256, known))
            try:
                self._connect()
                self._drain()
                return self._send(item)
            except (psycopg.OperationalError, ServerError) as exc:
                # Unreachable, or not writable now (schema being upgraded, password refused):
                # the save waits here, durable, and its message says why.
                self._lost(exc)
                self.journal.add(item)
                self._shapes.setdefault(rev.sha256, tuple(shape))
                return 0

    def _drain(self) -> None:
        """Send the journal oldest first; each entry is deleted only once the server has it."""
        if self.journal is None:
            return
        for path in self.journal.entries():
            try:
                self._send(self.journal.read(path))
            except psycopg.OperationalError:
                raise
            except Exception as exc:  # refused or unreadable: one bad entry must not block the rest
                kept = self.journal.set_aside(path)
                self.notices.append(f"a correction kept on this workstation was not accepted by the lab "
                                    f"server ({exc}); it is kept in {kept}")
                continue
            self.journal.remove(path)

    def _send(self, item: Pending) -> int:
        rev, conn = item.rev, self._conn
        try:
            with conn.transaction(), conn.cursor() as cur:
                if item.image is not None:
                    img = item.image
                    cur.execute("INSERT INTO images (sha256, height, width, channels, dtype, pixels) "
                                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING",
                                (rev.sha256, img.shape[0], img.shape[1], 1 if img.ndim == 2 else 3,
                                 str(img.dtype), pack(img)))
                loc = item.location
                if (rev.sha256, loc["path"]) not in self._located:
                    cur.execute("INSERT INTO image_locations (sha256, workstation, path, size_bytes) "
                                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                                (rev.sha256, loc["workstation"], loc["path"], loc["size_bytes"]))
                cur.execute(
                    "INSERT INTO revisions (uuid, sha256, path, workstation, status, client_time, grade, "
                    "scheme, fragment_fraction, grade_reason, reason_text, model_version, app_version, "
                    "mask, model_mask, extra) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                    "%s, %s, %s) "
                    "ON CONFLICT (uuid) DO NOTHING RETURNING seq, annotator, recorded_at, previous_seq",
                    (uuidlib.UUID(hex=rev.uuid), rev.sha256, rev.path, loc["workstation"], rev.status,
                     rev.time_utc or None, rev.grade, rev.scheme, rev.fragment_fraction, rev.grade_reason,
                     rev.reason_text, rev.model_version, rev.app_version, pack(rev.mask),
                     pack(rev.model_mask), Jsonb(rev.extra)))
                row = cur.fetchone()
                if row is None:  # sent before (a journal entry whose deletion was cut short)
                    cur.execute("SELECT seq, annotator, recorded_at, previous_seq FROM revisions "
                                "WHERE uuid = %s", (uuidlib.UUID(hex=rev.uuid),))
                    row = cur.fetchone()
                seq, who, at, previous = row
                others = []
                if previous is not None and previous != item.base_seq:
                    cur.execute("SELECT annotator, recorded_at FROM revisions WHERE sha256 = %s AND seq "
                                "< %s AND seq > %s ORDER BY seq", (rev.sha256, seq, item.base_seq or 0))
                    others = cur.fetchall()
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.IntegrityError,
                psycopg.errors.DataError) as exc:
            raise StoreError(f"the lab server refused the save: {str(exc).strip()}") from exc
        self._located.add((rev.sha256, loc["path"]))
        if item.image is not None:
            self._shapes[rev.sha256] = tuple(item.image.shape)
        for name, when in others:
            self.notices.append(f"{rev.path} was also changed by {name} at {iso(when)[:16].replace('T', ' ')}"
                                " UTC; both revisions are kept, yours is now the current one")
        stored = dataclasses.replace(rev, mask=None, model_mask=None, seq=seq, annotator=who,
                                     time_utc=iso(at))
        count = self._index[rev.sha256][1] + 1 if rev.sha256 in self._index else 1
        if rev.sha256 not in self._index or self._index[rev.sha256][0].seq < seq:
            self._index[rev.sha256] = (stored, count)
        self._masks[seq] = (pack(rev.mask), pack(rev.model_mask))
        self._seen[rev.sha256] = seq
        return seq

    @staticmethod
    def _read_folder_image(path: Path, sha: str) -> np.ndarray:
        if not path.is_file():
            raise RevisionError(f"the first save of {path.name} needs the image pixels")
        if sha256_file(path) != sha:
            raise RevisionError(f"{path} changed on disk: its SHA-256 no longer matches")
        return read_image(path)

    # ---- closing ---------------------------------------------------------------------------
    def close(self, compact: bool = True) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ServerStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
