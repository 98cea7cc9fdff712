"""Several workstations at once, a workstation killed mid-transaction, a server restarted mid-session."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psycopg

from app.core.store_api import open_store
from app.core.store_format import Revision

CHILD = Path(__file__).with_name("server_writer_child.py")


def _seed_images(url: str, folder: Path, n: int) -> list[str]:
    shas = []
    with open_store(url, folder) as st:
        for i in range(n):
            img = np.full((16, 16), i, np.uint8)
            sha = hashlib.sha256(img.tobytes()).hexdigest()
            st.append(Revision(sha, f"{sha[:8]}.png", "grade-only", "x", grade="1", scheme="istanbul",
                               grade_reason="image poor"), image=img)
            shas.append(sha)
    return shas


def _child(url, folder, n, tag, shas, *extra):
    return subprocess.Popen([sys.executable, str(CHILD), url, str(folder), str(n), tag, *shas, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_four_writers_500_revisions_each_all_kept_in_one_consistent_order(lab, tmp_path):
    shas = _seed_images(lab.url("alice"), tmp_path, 5)
    users = ["alice", "bob", "carol", "o'brien; drop table revisions;--"]
    procs = [_child(lab.url(u), tmp_path, 500, f"w{i}", shas) for i, u in enumerate(users)]
    committed: dict[str, int] = {}
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        seqs = []
        pairs = [line.split() for line in out.splitlines()]
        assert len(pairs) == 500
        for uid, seq in pairs:
            committed[uid] = int(seq)
            seqs.append(int(seq))
        assert seqs == sorted(seqs)  # one writer's saves keep its order
    with psycopg.connect(lab.url("alice")) as conn:
        rows = conn.execute("SELECT uuid, seq, sha256, previous_seq, recorded_at, annotator, extra "
                            "FROM revisions WHERE status = 'reviewed' ORDER BY seq").fetchall()
    assert {r[0].hex: r[1] for r in rows} == committed  # every committed revision, exactly once
    assert {r[5] for r in rows} == set(users)
    by_image: dict[str, list] = {}
    for r in rows:
        by_image.setdefault(r[2], []).append(r)
    with psycopg.connect(lab.url("alice")) as conn:
        firsts = dict(conn.execute("SELECT sha256, seq FROM revisions WHERE status = 'grade-only'").fetchall())
    for sha, revs in by_image.items():
        # Per image, seq order is the commit order: each revision names the one before it as
        # its predecessor, and the server's clock never goes back along the chain.
        prev = firsts[sha]
        for r in revs:
            assert r[3] == prev
            prev = r[1]
        times = [r[4] for r in revs]
        assert times == sorted(times)
    with open_store(lab.url("bob"), tmp_path, readonly=True) as st:
        for sha, revs in by_image.items():
            assert st.current(sha, masks=False).seq == revs[-1][1]
            assert st.revision_count(sha) == len(revs) + 1


def test_client_killed_mid_transaction_loses_nothing_committed(lab, tmp_path):
    shas = _seed_images(lab.url("alice"), tmp_path, 2)
    p = _child(lab.url("bob"), tmp_path, 40, "killed", shas, "--hold")
    committed, in_tx = [], None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        if line.startswith("IN-TX"):
            in_tx = line.split()[1]
            break
        committed.append(line.split()[0])
    if in_tx is None:
        p.kill()
        raise AssertionError(f"child: {p.communicate()[1]}")
    assert len(committed) == 40
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    # The killed backend's transaction is rolled back and its per-image lock freed:
    # another workstation saves the same image at once.
    with open_store(lab.url("alice"), tmp_path) as st:
        t0 = time.monotonic()
        assert st.append(Revision(shas[0], "x.png", "grade-only", "a", grade="2", scheme="istanbul",
                                  grade_reason="image poor")) > 0
        assert time.monotonic() - t0 < 10
    with psycopg.connect(lab.url("alice")) as conn:
        stored = {r[0].hex for r in conn.execute("SELECT uuid FROM revisions WHERE annotator = 'bob'")}
    assert set(committed) <= stored and in_tx not in stored and len(stored) == 40


def test_server_restart_mid_session_journal_keeps_and_drains_in_order_exactly_once(lab, tmp_path, pg_cluster):
    shas = _seed_images(lab.url("alice"), tmp_path, 1)
    st = open_store(lab.url("alice"), tmp_path)
    try:
        assert st.append(Revision(shas[0], "a.png", "reviewed", "a", model_mask=np.ones((16, 16), np.uint8))) > 0
        pg_cluster.stop()
        try:
            saved = []
            for k in range(3):
                rev = Revision(shas[0], "a.png", "corrected", "a", mask=np.full((16, 16), k % 3, np.uint8),
                               extra={"k": k})
                assert st.append(rev) == 0  # kept locally, not lost, no exception
                saved.append(k)
            assert st.journal_size == 3
            # Read back while offline: the last save, not the server's older revision.
            assert st.current(shas[0]).extra == {"k": 2} and int(st.current(shas[0]).mask[0, 0]) == 2
            assert "unreachable" in st.status_message() and "3 correction(s)" in st.status_message()
            assert st.sync() is False
            # A crash between the server's commit and the entry's deletion: the same entry twice.
            first = st.journal.entries()[0]
            shutil.copy(first, first.with_name("0" + first.name))
        finally:
            pg_cluster.start()
            pg_cluster.wait_ready()
        assert st.sync() is True
        assert st.journal_size == 0 and st.status_message() == ""
        # The resent duplicate is recognised as already stored, not set aside as refused.
        assert not list(st.journal.folder.glob("*.refused"))
        assert not any("not accepted" in n for n in st.take_notices())
        hist = st.history(shas[0])
        ks = [r.extra.get("k") for r in hist if r.status == "corrected"]
        assert ks == [0, 1, 2]  # in order, exactly once
        assert [int(r.mask[0, 0]) for r in hist if r.status == "corrected"] == [0, 1, 2]
        assert all(r.annotator == "alice" for r in hist[1:])
    finally:
        st.close()
