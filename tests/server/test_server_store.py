"""The PostgreSQL store against a real throwaway cluster: round trip, roles, append-only, quoting."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from app.core.server_schema import SCHEMA_VERSION, ServerError, apply_migrations, connect
from app.core.store_api import Store, open_store
from app.core.store_format import Revision, StoreError


def _image(seed: int, shape=(24, 32)) -> tuple[str, np.ndarray]:
    import hashlib

    img = np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)
    return hashlib.sha256(img.tobytes()).hexdigest(), img


def _mask(seed: int, shape=(24, 32)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 3, shape, dtype=np.uint8)


def test_round_trip_annotator_and_time_are_the_servers(lab, tmp_path):
    sha, img = _image(1)
    with open_store(lab.url("alice"), tmp_path) as st:
        assert isinstance(st, Store)
        mask = _mask(2)
        seq = st.append(Revision(sha, "a.png", "corrected", "mallory", mask=mask, model_mask=_mask(3),
                                 fragment_fraction=0.25, time_utc="1999-01-01T00:00:00.000Z"), image=img)
        assert seq > 0
    with open_store(lab.url("bob"), tmp_path, readonly=True) as st:
        rev = st.current(sha)
        assert rev.annotator == "alice"  # session_user, not what the client claimed
        assert not rev.time_utc.startswith("1999")  # the server's clock
        assert np.array_equal(rev.mask, mask) and rev.fragment_fraction == 0.25
        assert np.array_equal(st.image(sha), img)
        assert st.shas() == [sha] and st.revision_count(sha) == 1 and sha in st


@pytest.mark.parametrize("verb", ["UPDATE revisions SET grade = 'x'", "DELETE FROM revisions",
                                  "UPDATE images SET dtype = 'uint16'", "DELETE FROM image_locations",
                                  "TRUNCATE revisions"])
def test_annotator_and_owner_cannot_change_or_delete(lab, tmp_path, verb):
    sha, img = _image(4)
    with open_store(lab.url("alice"), tmp_path) as st:
        st.append(Revision(sha, "a.png", "reviewed", "alice", model_mask=_mask(5)), image=img)
    for user in ("alice", "lab_owner"):  # privileges refuse the annotator, the trigger the owner
        with psycopg.connect(lab.url(user)) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(verb)
    with psycopg.connect(lab.url("alice")) as conn:
        assert conn.execute("SELECT count(*) FROM revisions").fetchone()[0] == 1


def test_roles_annotator_reads_and_inserts_only_labadmin_manages_models(lab):
    with psycopg.connect(lab.url("alice")) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO model_events (version, status) VALUES ('m1', 'active')")
    with psycopg.connect(lab.url("carol")) as conn:
        conn.execute("INSERT INTO model_events (version, status) VALUES ('m1', 'active')")
        assert conn.execute("SELECT by_user FROM model_events").fetchone()[0] == "carol"
        super_ = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = session_user").fetchone()[0]
        assert super_ is False


def test_hostile_text_is_stored_as_text(lab, tmp_path):
    evil = "Robert'); DROP TABLE revisions;-- \"quoted\" $$ \\x00 %s %(x)s ''"
    sha, img = _image(6)
    name = "o'brien; drop table revisions;--"
    with open_store(lab.url(name), tmp_path) as st:
        # (a path's backslashes become slashes, as in the HDF5 store: Windows separators)
        st.append(Revision(sha, f"sub/{evil.replace(chr(92), '')}.png", "grade-only", "x", grade="3", scheme="istanbul",
                           grade_reason="other", reason_text=evil, model_version=evil,
                           extra={"note": evil}), image=img)
    with open_store(lab.url("alice"), tmp_path, readonly=True) as st:
        rev = st.current(sha)
        assert rev.annotator == name and rev.reason_text == evil and rev.model_version == evil
        assert rev.path == f"sub/{evil.replace(chr(92), '')}.png" and rev.extra == {"note": evil}
    with psycopg.connect(lab.url("alice")) as conn:
        loc = conn.execute("SELECT path FROM image_locations").fetchone()[0]
        assert loc.endswith(f"sub/{evil.replace(chr(92), '')}.png")


def test_schema_version_is_checked_before_writing(lab, tmp_path, pg_cluster):
    with psycopg.connect(lab.owner, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(ServerError, match="newer than this app"):
        open_store(lab.url("alice"), tmp_path)
    with connect(lab.owner) as conn, pytest.raises(ServerError, match="newer"):
        apply_migrations(conn, init=False)


def test_uninitialised_database_says_what_to_do(pg_cluster, tmp_path):
    with psycopg.connect(pg_cluster.url("postgres", "postgres"), autocommit=True) as su:
        su.execute("CREATE DATABASE empty_lab")
    with pytest.raises(ServerError, match="server init"):
        open_store(pg_cluster.url("postgres", "empty_lab"), tmp_path)


def test_invalid_revision_writes_nothing(lab, tmp_path):
    sha, img = _image(7)
    with open_store(lab.url("alice"), tmp_path) as st:
        with pytest.raises(StoreError):
            st.append(Revision(sha, "a.png", "corrected", "alice"), image=img)  # no mask
        assert st.journal_size == 0
    with psycopg.connect(lab.url("alice")) as conn:
        assert conn.execute("SELECT count(*) FROM revisions").fetchone()[0] == 0


def test_two_people_on_one_image_both_kept_later_is_current_first_is_told(lab, tmp_path):
    sha, img = _image(8)
    a = open_store(lab.url("alice"), tmp_path)
    b = open_store(lab.url("bob"), tmp_path)
    try:
        a.append(Revision(sha, "a.png", "corrected", "alice", mask=_mask(9)), image=img)
        b.refresh()
        assert b.current(sha, masks=False).annotator == "alice"
        a_view = a.current(sha)  # alice has the image open
        b.append(Revision(sha, "a.png", "corrected", "bob", mask=_mask(10)))
        a.append(Revision(sha, "a.png", "corrected", "alice", mask=a_view.mask))
        notes = a.take_notices()
        assert len(notes) == 1 and "bob" in notes[0] and "both revisions are kept" in notes[0]
        assert b.take_notices() == []
        hist = a.history(sha)
        assert [r.annotator for r in hist] == ["alice", "bob", "alice"]
        b.refresh()
        assert b.current(sha, masks=False).annotator == "alice"  # the later one is current
        # Shown again after bob saved: bob's name and time are what alice sees.
        b.append(Revision(sha, "a.png", "reviewed", "bob", model_mask=_mask(11)))
        a.refresh()
        cur = a.current(sha, masks=False)
        assert cur.annotator == "bob" and cur.time_utc.endswith("Z")
    finally:
        a.close()
        b.close()


def test_server_init_upgrade_status_from_the_command_line(lab, pg_cluster):
    import subprocess
    import sys
    from pathlib import Path

    main = str(Path(__file__).resolve().parents[2] / "main.py")
    with psycopg.connect(pg_cluster.url("postgres", "postgres"), autocommit=True) as su:
        su.execute("CREATE DATABASE cli_lab OWNER lab_owner")  # lab_owner: no superuser
    url = pg_cluster.url("lab_owner", "cli_lab")

    def cli(*args):
        return subprocess.run([sys.executable, main, "server", *args, url], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    r = cli("upgrade")
    assert r.returncode == 2 and "server init" in r.stderr
    r = cli("init")
    assert r.returncode == 0 and f"migrations applied: {SCHEMA_VERSION}" in r.stdout
    r = cli("init")
    assert r.returncode == 2 and "already initialised" in r.stderr
    r = cli("upgrade")
    assert r.returncode == 0 and "already up to date" in r.stdout
    r = cli("status")
    assert r.returncode == 0 and f"schema version {SCHEMA_VERSION}" in r.stdout


def test_a_bad_journal_entry_is_set_aside_not_lost_and_blocks_nothing(lab, tmp_path):
    sha, img = _image(12)
    with open_store(lab.url("alice"), tmp_path) as st:
        bad = st.journal.folder / "00000000000000000001-bad.h5"
        bad.write_bytes(b"not hdf5")  # e.g. a disk that lost the entry's content
        assert st.append(Revision(sha, "a.png", "reviewed", "a", model_mask=_mask(13)), image=img) > 0
        assert (st.journal.folder / (bad.name + ".refused")).read_bytes() == b"not hdf5"
        assert any("not accepted" in n for n in st.take_notices())
        assert st.revision_count(sha) == 1 and st.journal_size == 0
