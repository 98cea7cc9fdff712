"""The annotation store on the lab's PostgreSQL server (Qt-free); same API as ``AnnotationStore``.

One store for the whole lab: every workstation appends revisions; the server
names the annotator (``session_user``) and the time, numbers the revisions of
one image in commit order, and refuses updates and deletes
(``server_sql/0001_initial.sql``). This object keeps an index of the current
revision of every image (metadata only) and the masks of the folder's
images, so the review window reads from memory; ``sync()`` (from a worker)
reconnects, sends the local journal and refreshes the index.

Two locks: ``_lock`` serialises the connection (held across round trips,
by workers only); ``_mem`` guards the in-memory index and is held only
for dictionary work, so a GUI-thread read (``current_nowait``,
``current(masks=False)``, ``shas``, ``take_notices``) never waits for the
network. ``network_threads`` records every thread that used the connection.

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
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psycopg

from app.core.server_journal import Pending, ServerJournal, journal_dir_for
from app.core.server_rows import CURRENT, META, iso, pack, revision, unpack
from app.core.server_schema import ServerError, check_schema, connect, redact
from app.core.server_send import read_folder_image, send
from app.core.store_api import NotLoaded
from app.core.store_format import (
    LABEL_STATUSES,
    Revision,
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
        self._mem = threading.Lock()
        self._loaded = False  # the index came from the server at least once
        self.network_threads: set[int] = set()
        self._conn: psycopg.Connection | None = None
        self._closed = False
        self._index: dict[str, tuple[Revision, int]] = {}  # sha -> (current, revision count)
        self._masks: dict[int, tuple] = {}  # seq -> (mask, model_mask)
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._seen: dict[str, int] = {}  # sha -> seq of the revision last read here
        self._located: set[tuple[str, str]] = set()
        # Saves kept in the journal this session (sha -> latest, masks included): what ``current``
        # answers until the journal is sent, so an offline correction reads back as saved.
        self._pending: dict[str, Revision] = {}
        self.journal = None if readonly else ServerJournal(Path(journal_dir) if journal_dir
                                                           else journal_dir_for(self.path))
        if connect:
            self._connect()
            self._drain()
            self._load()

    # ---- connection ------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        # Every use of the server passes here: the GUI's tests check that its thread never does.
        self.network_threads.add(threading.get_ident())
        if self._closed:
            raise StoreError("the annotation store is closed")
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

    def _notice(self, text: str) -> None:
        with self._mem:
            self.notices.append(text)

    def take_notices(self) -> list[str]:
        with self._mem:
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
            shapes = {s: (h, w) if c == 1 else (h, w, 3) for s, h, w, c in cur}
            # The masks of this folder's images, so showing an image needs no round trip.
            cur.execute("SELECT DISTINCT ON (r.sha256) r.seq, r.mask, r.model_mask FROM revisions r "
                        "JOIN image_locations l USING (sha256) WHERE l.workstation = %s AND "
                        "starts_with(l.path, %s) ORDER BY r.sha256, r.seq DESC",
                        (self.workstation, self.folder.as_posix().rstrip("/") + "/"))
            rows = cur.fetchall()
        with self._mem:
            # Shapes the server lacks yet: images first saved into the journal.
            self._index, self._shapes, self._loaded = index, {**self._shapes, **shapes}, True
            for seq, mask, model_mask in rows:
                self._masks[seq] = (mask, model_mask)

    def refresh(self) -> None:
        self.sync()

    def _in_memory(self, sha: str, masks: bool) -> Revision | None:
        """The current revision from memory; NotLoaded when its masks (or the index) need the server."""
        with self._mem:
            if sha in self._pending:
                rev = self._pending[sha]
                return dataclasses.replace(
                    rev, extra=dict(rev.extra),
                    mask=rev.mask.copy() if masks and rev.mask is not None else None,
                    model_mask=rev.model_mask.copy() if masks and rev.model_mask is not None else None)
            if sha not in self._index:
                if masks and not self._loaded:
                    raise NotLoaded(f"{sha[:12]}: the lab server's index is not loaded yet")
                return None
            rev = self._index[sha][0]
            if not masks:
                return dataclasses.replace(rev, extra=dict(rev.extra))
            if rev.seq not in self._masks:
                raise NotLoaded(f"{sha[:12]}: masks not loaded with the folder")
            mask, model_mask = self._masks[rev.seq]
            shape = self._shapes.get(sha, ())[:2]
            # What an editor starts from: a later save by someone else is then worth a notice.
            self._seen[sha] = rev.seq
        return dataclasses.replace(rev, extra=dict(rev.extra), mask=unpack(mask, shape),
                                   model_mask=unpack(model_mask, shape))

    def current_nowait(self, sha: str) -> Revision | None:
        """``current(sha)`` from memory only, for the GUI thread; NotLoaded when it needs the
        server (``current`` in a worker fetches it; this answers from then on)."""
        return self._in_memory(sha, True)

    @_network
    def _fetch(self, shas: list[str]) -> None:
        if not self._loaded:
            self._connect()
            self._load()
        with self._mem:
            missing = [self._index[s][0].seq for s in shas
                       if s in self._index and self._index[s][0].seq not in self._masks]
        if missing:
            with self._connect().cursor() as cur:
                cur.execute("SELECT seq, mask, model_mask FROM revisions WHERE seq = ANY(%s)", (missing,))
                rows = cur.fetchall()
            with self._mem:
                for seq, m, mm in rows:
                    self._masks[seq] = (m, mm)

    def current(self, sha: str, masks: bool = True) -> Revision | None:
        try:
            return self._in_memory(sha, masks)
        except NotLoaded:
            self._fetch([sha])
            return self._in_memory(sha, masks)

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

    def current_all(self, masks: bool = True) -> dict[str, Revision]:
        if masks:
            self._fetch(self.shas())
        return {sha: self.current(sha, masks) for sha in self.shas()}

    def shas(self) -> list[str]:
        with self._mem:
            return sorted(self._index, key=lambda s: (self._index[s][0].path, s))

    def revision_count(self, sha: str) -> int:
        with self._mem:
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
            with self._mem:
                shape = self._shapes.get(rev.sha256)
                known = self._index[rev.sha256][0].seq if rev.sha256 in self._index else None
                base = self._seen.get(rev.sha256, known)
            if shape is None:
                if image is None:
                    image = read_folder_image(abs_path, rev.sha256)
                validate_image(image)
                shape = image.shape
            else:
                image = None
            validate(rev, shape)
            rev.uuid = rev.uuid or new_uuid()
            rev.time_utc = rev.time_utc or utc_now_iso()
            rev.app_version = rev.app_version or __version__
            size = abs_path.stat().st_size if abs_path.is_file() else None
            item = Pending(rev, image, {"workstation": self.workstation, "path": abs_path.as_posix(),
                                        "size_bytes": size}, base)
            try:
                self._connect()
                self._drain()
                return self._send(item)
            except (psycopg.OperationalError, ServerError) as exc:
                # Unreachable, or not writable now (schema being upgraded, password refused):
                # the save waits here, durable, and its message says why.
                self._lost(exc)
                self.journal.add(item)
                with self._mem:
                    self._shapes.setdefault(rev.sha256, tuple(shape))
                    self._pending[rev.sha256] = rev
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
                self._notice(f"a correction kept on this workstation was not accepted by the lab "
                                    f"server ({exc}); it is kept in {kept}")
                continue
            self.journal.remove(path)
        with self._mem:
            self._pending.clear()  # all sent (or set aside): the server's index answers again

    def _send(self, item: Pending) -> int:
        rev, loc = item.rev, item.location
        sent = send(self._conn, item, (rev.sha256, loc["path"]) in self._located)
        self._located.add((rev.sha256, loc["path"]))
        for name, when in sent.others:
            self._notice(f"{rev.path} was also changed by {name} at {iso(when)[:16].replace('T', ' ')}"
                         " UTC; both revisions are kept, yours is now the current one")
        seq = sent.seq
        stored = dataclasses.replace(rev, mask=None, model_mask=None, seq=seq, annotator=sent.annotator,
                                     time_utc=iso(sent.recorded_at))
        with self._mem:
            if item.image is not None:
                self._shapes[rev.sha256] = tuple(item.image.shape)
            count = self._index[rev.sha256][1] + 1 if rev.sha256 in self._index else 1
            if rev.sha256 not in self._index or self._index[rev.sha256][0].seq < seq:
                self._index[rev.sha256] = (stored, count)
            self._masks[seq] = (pack(rev.mask), pack(rev.model_mask))
            self._seen[rev.sha256] = seq
        return seq

    # ---- closing ---------------------------------------------------------------------------
    def close(self, compact: bool = True) -> None:
        # Never waits for a round trip in progress (the GUI closes stores): the connection is
        # closed by whoever holds it when that round trip ends.
        self._closed = True
        if not self._lock.acquire(blocking=False):
            threading.Thread(target=self._close_connection, name="lab-server-close", daemon=True).start()
            return
        try:
            self._close_connection()
        finally:
            self._lock.release()

    def _close_connection(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ServerStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
