"""A throwaway PostgreSQL cluster for the lab-server tests and bench/store_server.py.

Debian's ``postgresql`` package (``.ci/run`` installs it when missing): initdb
in a temporary folder, a free local port, the socket in that folder. The
server refuses to run as root, so under root the cluster belongs to the
``postgres`` user and its commands run through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def find_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    SUPERUSER = "postgres"

    def __init__(self, bindir: Path, durable: bool = False) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="embryograde-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.durable = durable
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self._as_user, *args], check=True, capture_output=True, text=True,
                              timeout=120)

    def init(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.SUPERUSER,
                  "--auth=trust", "-E", "UTF8", "--locale=C")

    def start(self) -> None:
        # Tests: no fsync (the cluster dies with the test run). The bench keeps it on.
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=40"
                + ("" if self.durable else " -c fsync=off -c full_page_writes=off"))
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts,
                  "-l", str(self.root / "log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, user: str, db: str) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}"

    def wait_ready(self, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = subprocess.run([str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                               capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("the test cluster did not come up")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(durable: bool = False) -> Cluster:
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError("no PostgreSQL binaries (initdb) found: apt-get install postgresql")
    c = Cluster(bindir, durable)
    try:
        c.init()
        c.start()
    except BaseException:
        shutil.rmtree(c.root, ignore_errors=True)
        raise
    return c


def make_lab(cluster: Cluster, db: str, users: dict[str, str]) -> str:
    """A lab database as docs/lab-server.md sets it up: an owner login that is not a superuser
    initialises it, then adds people (``users``: name -> 'annotator' or 'labadmin').
    Returns the owner's URL."""
    import psycopg

    from app.core.server_schema import apply_migrations, connect

    with psycopg.connect(cluster.url(cluster.SUPERUSER, "postgres"), autocommit=True) as su:
        exists = su.execute("SELECT 1 FROM pg_roles WHERE rolname = 'lab_owner'").fetchone()
        if not exists:
            su.execute("CREATE ROLE lab_owner LOGIN CREATEROLE")
        su.execute(f'CREATE DATABASE "{db}" OWNER lab_owner')
    owner = cluster.url("lab_owner", db)
    with connect(owner) as conn:
        apply_migrations(conn, init=True)
        for name, role in users.items():
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                conn.execute(f'CREATE ROLE "{name}" LOGIN')
            conn.execute(f'GRANT embryograde_{role} TO "{name}"')
    return owner
