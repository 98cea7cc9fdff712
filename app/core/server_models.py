"""The lab's model log on the server (``model_events``): activation, rollback, fine-tune promotion.
Qt-free.

When the window or the CLI works against a lab server, a change of the active model is a lab
decision: the event is inserted in a transaction that stays open around the local registry
change and commits only when that change succeeded, so the server never lists a change that
did not happen here. Who and when are the server's (``session_user``, ``clock_timestamp()``:
column defaults the client does not set). Only members of ``embryograde_labadmin`` may insert
(server_sql/0001_initial.sql); anyone else is refused before anything changes locally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from app.core.server_schema import ServerError, check_schema, connect, redact

LAB_ADMIN_ROLE = "embryograde_labadmin"


class ModelEventRefused(ServerError):
    """The server refused the model change: the user is not a lab admin."""


@dataclass
class Recorded:
    by_user: str
    at: datetime


@contextmanager
def model_events(url: str, events: list[tuple[str, str, str, dict]], password: str | None = None,
                 ask_password: Callable[[str], str | None] | None = None) -> Iterator[Recorded]:
    """``events``: (version, status, note, metadata) rows; the body makes the local change."""
    conn = connect(url, password, ask_password)
    try:
        check_schema(conn)
        try:
            with conn.cursor() as cur:
                for version, status, note, metadata in events:
                    cur.execute("INSERT INTO model_events (version, status, note, metadata) "
                                "VALUES (%s, %s, %s, %s) RETURNING by_user, at",
                                (version, status, note, Jsonb(metadata)))
                who, at = cur.fetchone()
        except psycopg.errors.InsufficientPrivilege as exc:
            user = conn.info.user
            raise ModelEventRefused(
                f"only a lab admin can change the lab's model on {redact(url)}: {user} is not a member "
                f"of {LAB_ADMIN_ROLE} (ask the lab admin, docs/lab-server.md); nothing was changed") from exc
        except psycopg.Error as exc:
            raise ServerError(f"the lab server {redact(url)} did not record the model change: "
                              f"{str(exc).strip()}; nothing was changed") from exc
        yield Recorded(who, at)
        conn.commit()
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise
    finally:
        conn.close()


def recorder(url: str, password: str | None = None,
             ask_password: Callable[[str], str | None] | None = None):
    """What ``Registry.recorder`` takes: events on this server around each registry change."""
    def record(events: list[tuple[str, str, str, dict]]):
        return model_events(url, events, password, ask_password)
    return record


def history(url: str, password: str | None = None) -> list[dict]:
    """The log, oldest first (for ``models list --store`` and the tests)."""
    with connect(url, password) as conn, conn.cursor() as cur:
        cur.execute("SELECT version, status, note, metadata, by_user, at FROM model_events ORDER BY id")
        cols = ("version", "status", "note", "metadata", "by_user", "at")
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
