"""`server init|upgrade|status URL`: set up and upgrade the lab's PostgreSQL annotation store.

Run by the lab admin as the database's owner (docs/lab-server.md); no
superuser needed. Credentials come from libpq (``~/.pgpass``, a service
file, ``PGPASSWORD``) or a prompt; never pass a password in the URL that
ends in a shell history. Exit codes: 0 done; 2 cannot connect or refused.
"""

from __future__ import annotations

import getpass
import sys


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (("init", "create the schema and roles in an empty database"),
                       ("upgrade", "apply the migrations this version of the app adds"),
                       ("status", "schema version, and this workstation's unsent corrections")):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("url", metavar="URL", help="postgresql://host[:port]/database (sslmode=... honoured)")


def ask_password(where: str) -> str | None:
    """libpq found no password: ask on the terminal, never store it."""
    if not sys.stdin or not sys.stdin.isatty():
        return None
    return getpass.getpass(f"password for {where}: ")


def run(args) -> int:
    from app.core.server_journal import ServerJournal, journal_dir_for
    from app.core.server_schema import (
        SCHEMA_VERSION,
        ServerError,
        apply_migrations,
        connect,
        redact,
        server_version,
    )

    try:
        with connect(args.url, ask_password=ask_password) as conn:
            if args.action == "status":
                have = server_version(conn)
                pending = len(ServerJournal(journal_dir_for(redact(args.url))))
                print(f"{redact(args.url)}: schema version {have} (this app: {SCHEMA_VERSION}); "
                      f"{pending} correction(s) of this workstation waiting to be sent")
                return 0
            done = apply_migrations(conn, init=args.action == "init")
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the server's refusal (e.g. not the owner): one line, not a traceback
        print(f"error: {redact(args.url)}: {str(exc).strip()}", file=sys.stderr)
        return 2
    applied = ", ".join(str(v) for v in done) or "none (already up to date)"
    print(f"{redact(args.url)}: schema version {SCHEMA_VERSION}; migrations applied: {applied}")
    return 0
