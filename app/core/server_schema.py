"""The lab server's schema: versioned SQL migrations, and connecting with libpq's own credentials.

Migrations are ``app/core/server_sql/NNNN_name.sql``, applied in order, each
in its own transaction, by ``main.py server init|upgrade`` as the database
owner. The app refuses to write to a server whose schema version is not the
one it was built for (``check_schema``), so an old workstation cannot write
rows a newer schema would misread. Qt-free.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from app.core.store_api import is_server_url
from app.core.store_format import StoreError

# Relative to the bundle's root, not to __file__: a macOS .app keeps data apart from code
# (app.core.resources); installers/embryograde.spec puts the .sql files at this path.
SQL_RELATIVE = "app/core/server_sql"
CONNECT_TIMEOUT_S = 5
# One advisory lock key for migrations: two admins upgrading at once take turns.
_MIGRATION_LOCK = 0x45_6D_62_72_79_6F  # "Embryo"


class ServerError(StoreError):
    """The lab server cannot be used as asked; the message says why and what to do."""


def sql_dir() -> Path:
    from app.core.resources import bundle_root

    return bundle_root() / SQL_RELATIVE


def migrations() -> list[tuple[int, Path]]:
    out = []
    for p in sorted(sql_dir().glob("*.sql")):
        m = re.match(r"^(\d{4})_", p.name)
        if m:
            out.append((int(m.group(1)), p))
    return out


SCHEMA_VERSION = migrations()[-1][0]


def redact(url: str) -> str:
    """The URL without a password, for messages, logs and the journal's folder name."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable server URL>"
    user = f"{params['user']}@" if params.get("user") else ""
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{params.get('host', '')}{port}/{params.get('dbname', '')}"


def has_password(url: str) -> bool:
    try:
        return "password" in conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return False


def _needs_password(exc: Exception) -> bool:
    text = str(exc)
    return "no password supplied" in text or "password authentication failed" in text


def connect(url: str, password: str | None = None,
            ask_password: Callable[[str], str | None] | None = None, **kw) -> psycopg.Connection:
    """Connect as libpq would (``.pgpass``, ``PGSERVICEFILE``, ``sslmode`` in the URL or
    ``PGSSLMODE``); when the server wants a password libpq has not found, ask once."""
    if not is_server_url(url):
        raise ServerError(f"not a server URL (postgresql://host/db): {url!r}")
    extra = {"password": password} if password else {}
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S,
                               application_name="EmbryoGrade", **extra, **kw)
    except psycopg.OperationalError as exc:
        if password is None and ask_password is not None and _needs_password(exc):
            given = ask_password(redact(url))
            if given:
                return connect(url, given, None, **kw)
        raise ServerError(f"cannot connect to the lab server {redact(url)}: "
                          f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}") from exc


def server_version(conn: psycopg.Connection) -> int:
    """The schema version on the server; 0 for a database never initialised."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('public.schema_version') IS NOT NULL")
        if not cur.fetchone()[0]:
            return 0
        cur.execute("SELECT coalesce(max(version), 0) FROM schema_version")
        return int(cur.fetchone()[0])


def check_schema(conn: psycopg.Connection) -> None:
    """Refuse to write unless the server's schema is exactly this app's."""
    have = server_version(conn)
    if have == SCHEMA_VERSION:
        return
    if have == 0:
        raise ServerError("the lab server's database is not initialised: the lab admin runs "
                          "`main.py server init URL` (docs/lab-server.md)")
    if have < SCHEMA_VERSION:
        raise ServerError(f"the lab server has schema version {have}, this app needs {SCHEMA_VERSION}: "
                          "the lab admin runs `main.py server upgrade URL`")
    raise ServerError(f"the lab server has schema version {have}, newer than this app's "
                      f"{SCHEMA_VERSION}: update EmbryoGrade on this workstation")


def apply_migrations(conn: psycopg.Connection, init: bool) -> list[int]:
    """Apply the pending migrations; ``init`` requires an empty database, upgrade an initialised one."""
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
    try:
        have = server_version(conn)
        if init and have:
            raise ServerError(f"already initialised (schema version {have}); use `server upgrade`")
        if not init and not have:
            raise ServerError("not initialised yet; use `server init`")
        if have > SCHEMA_VERSION:
            raise ServerError(f"the server's schema ({have}) is newer than this app's ({SCHEMA_VERSION})")
        done = []
        for version, path in migrations():
            if version <= have:
                continue
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(path.read_text("utf-8"))
                cur.execute("SELECT coalesce(max(version), 0) FROM schema_version")
                if cur.fetchone()[0] != version:
                    raise ServerError(f"{path.name} did not record schema version {version}")
            done.append(version)
        return done
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
