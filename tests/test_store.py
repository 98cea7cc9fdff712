"""Annotation store: round trip, append-only history, damage handling, full disk, locking."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from app.core import atomic
from app.core.store import (
    AnnotationStore,
    Revision,
    RevisionError,
    StoreDamagedError,
    StoreLockedError,
    StoreWriteError,
    embryo_key,
    iter_training_samples,
)


def sha(i) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def img(i, shape=(32, 32)):
    return np.full(shape, i % 256, np.uint8)


def mask(i, shape=(32, 32)):
    m = np.zeros(shape, np.uint8)
    m[4:20, 4:20] = 1
    m[5 : 5 + i % 10, 5:8] = 2
    return m


def corrected(i, **kw):
    return Revision(sha(i), f"D2024_S1_WELL0{i % 3}_RUN{i}.png", "corrected", "ana",
                    mask=mask(i), model_mask=mask(i + 1), grade="1", scheme="istanbul",
                    fragment_fraction=0.05, model_version="m1", **kw)


@pytest.fixture
def folder(tmp_path):
    return tmp_path


def test_round_trip_history_and_reopen(folder):
    s = AnnotationStore.for_folder(folder, compact_every=3)
    assert s.path == folder / ".embryograde" / "annotations.h5"
    seqs = [s.append(corrected(i), image=img(i)) for i in range(4)]
    assert seqs == [1, 2, 3, 4]
    second = Revision(sha(0), str(folder / "D2024_S1_WELL00_RUN0.png"), "grade-only", "bo",
                      grade="2", scheme="istanbul", grade_reason="other", reason_text="halo")
    assert s.append(second) == 5  # pixels of sha(0) already stored: no image needed
    for reopen in (False, True):
        if reopen:
            s.close()
            s = AnnotationStore.for_folder(folder)
            assert s.journal_size == 0 and s.recovery == []
        assert len(s) == 4
        hist = s.history(sha(0))
        assert [r.status for r in hist] == ["corrected", "grade-only"]
        assert np.array_equal(hist[0].mask, mask(0))  # the earlier revision stays readable
        assert np.array_equal(hist[0].model_mask, mask(1))
        cur = s.current(sha(0))
        assert cur.seq == 5 and cur.annotator == "bo" and cur.path == "D2024_S1_WELL00_RUN0.png"
        assert cur.time_utc.endswith("Z") and cur.app_version and len(cur.uuid) == 32
        assert cur.mask is None and cur.label_mask is None
        assert np.array_equal(s.image(sha(3)), img(3))
        assert set(s.current_all(masks=False)) == {sha(i) for i in range(4)}
        assert s.current(sha(99)) is None and s.history(sha(99)) == []
    s.close()


def test_training_reader(folder):
    with AnnotationStore.for_folder(folder) as s:
        s.append(corrected(1), image=img(1))
        s.append(Revision(sha(2), "x/plain.png", "reviewed", "ana", model_mask=mask(2),
                          grade="1", scheme="istanbul"), image=img(2, (32, 32, 3)).astype(np.uint16))
        s.append(Revision(sha(3), "g.png", "grade-only", "ana", grade="3", scheme="asebir",
                          grade_reason="image poor"), image=img(3))
    with AnnotationStore.for_folder(folder, readonly=True) as r:
        samples = {t.sha256: t for t in iter_training_samples(r)}
    a, b, c = samples[sha(1)], samples[sha(2)], samples[sha(3)]
    assert a.embryo_key == "D2024_S1_WELL01" and np.array_equal(a.mask, mask(1))
    assert np.array_equal(a.provenance["model_mask"], mask(2))
    assert b.embryo_key == "plain" and b.image.dtype == np.uint16 and b.image.shape == (32, 32, 3)
    assert np.array_equal(b.mask, mask(2))  # accepted model mask
    assert c.mask is None and c.grade == "3" and c.scheme == "asebir"
    assert c.provenance["grade_reason"] == "image poor"


def test_embryo_key():
    assert embryo_key("D2024.10.20_S01055_I4778_P_WELL06_RUN141.png") == \
        "D2024.10.20_S01055_I4778_P_WELL06"
    assert embryo_key("sub/dir/embryo7.tif") == "embryo7"


def test_invalid_revisions_are_rejected_before_writing(folder):
    with AnnotationStore.for_folder(folder) as s:
        with pytest.raises(RevisionError):
            s.append(Revision(sha(1), "a.png", "corrected", "ana"), image=img(1))
        with pytest.raises(RevisionError):
            s.append(Revision(sha(1), "a.png", "grade-only", "ana", grade="1",
                              scheme="istanbul", grade_reason="other"), image=img(1))
        bad = mask(1)
        bad[0, 0] = 7
        with pytest.raises(RevisionError):
            s.append(Revision(sha(1), "a.png", "corrected", "ana", mask=bad), image=img(1))
        with pytest.raises(RevisionError):  # first save without pixels, no file in folder
            s.append(corrected(1))
        assert len(s) == 0 and s.journal_size == 0


def test_pixels_read_from_folder_when_not_given(folder):
    from app.core.imaging import sha256_file, write_png

    p = folder / "e_RUN1.png"
    write_png(p, img(7))
    with AnnotationStore.for_folder(folder) as s:
        rev = Revision(sha256_file(p), str(p), "reviewed", "ana", model_mask=mask(1))
        s.append(rev)
        assert np.array_equal(s.image(rev.sha256), img(7))
        assert s.current(rev.sha256).path == "e_RUN1.png"


def _damage(path, how):
    if how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "zero":
        path.write_bytes(b"")
    elif how == "not-hdf5":
        path.write_text("this is not HDF5\n")
    elif how == "schema":
        import h5py

        with h5py.File(path, "r+") as f:
            f.attrs["schema_version"] = 99


@pytest.mark.parametrize("how", ["truncated", "zero", "not-hdf5", "schema"])
def test_damaged_main_file_is_moved_aside_and_reported(folder, how):
    s = AnnotationStore.for_folder(folder)
    for i in range(3):
        noise = np.random.default_rng(i).integers(0, 255, (64, 64), dtype=np.uint8)
        s.append(Revision(sha(i), f"a{i}.png", "corrected", "ana", mask=mask(i, (64, 64))),
                 image=noise)  # noise: a file big enough to truncate meaningfully
    s.close()  # compacts: everything is in the main file now
    main = s.path
    _damage(main, how)
    damaged_bytes = main.read_bytes()
    with pytest.raises(StoreDamagedError):
        AnnotationStore.for_folder(folder, readonly=True)
    assert main.read_bytes() == damaged_bytes  # read-only never moves anything
    s = AnnotationStore.for_folder(folder)
    assert s.damaged and len(s.recovery) == 1
    ev = s.recovery[0]
    assert ev.kind == "main-damaged" and ev.moved_to and "damaged-" in ev.moved_to
    assert open(ev.moved_to, "rb").read() == damaged_bytes  # untouched
    assert "moved aside" in s.recovery_message()
    assert len(s) == 0
    s.append(corrected(5), image=img(5))  # a new store works
    s.close()
    with AnnotationStore.for_folder(folder) as s2:
        assert len(s2) == 1 and not s2.damaged


def test_damaged_journal_entry_is_moved_aside_and_others_recovered(folder):
    s = AnnotationStore.for_folder(folder)
    for i in range(3):
        s.append(corrected(i), image=img(i))
    s.close(compact=False)
    entries = sorted(s.journal_dir.glob("*.h5"))
    entries[1].write_bytes(entries[1].read_bytes()[:100])
    _damage(s.path, "zero")
    s = AnnotationStore.for_folder(folder)
    kinds = sorted(e.kind for e in s.recovery)
    assert kinds == ["journal-damaged", "main-damaged"]
    assert set(s.shas()) == {sha(0), sha(2)}  # intact journal entries recovered
    s.close()
    with AnnotationStore.for_folder(folder) as s2:
        assert set(s2.shas()) == {sha(0), sha(2)} and not s2.damaged


def test_full_disk_keeps_previous_data(folder, monkeypatch):
    s = AnnotationStore.for_folder(folder, compact_every=0)
    s.append(corrected(1), image=img(1))

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "_write_all", full)
    with pytest.raises(StoreWriteError, match="disk full") as info:
        s.append(corrected(2), image=img(2))
    assert info.value.errno == errno.ENOSPC
    assert len(s) == 1 and s.journal_size == 1
    assert not [p for p in s.journal_dir.iterdir() if p.name.startswith(".tmp-")]
    monkeypatch.undo()
    s.append(corrected(2), image=img(2))
    s.close()
    with AnnotationStore.for_folder(folder) as s2:
        assert set(s2.shas()) == {sha(1), sha(2)}


def test_compaction_failure_keeps_journal(folder, monkeypatch):
    s = AnnotationStore.for_folder(folder, compact_every=0)
    s.append(corrected(1), image=img(1))
    monkeypatch.setattr("app.core.store.fsync_file",
                        lambda p: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(StoreWriteError, match="compaction postponed"):
        s.compact()
    assert s.journal_size == 1 and np.array_equal(s.current(sha(1)).mask, mask(1))
    monkeypatch.undo()
    s.close()
    with AnnotationStore.for_folder(folder) as s2:
        assert s2.journal_size == 0 and len(s2) == 1


def test_killed_between_rename_and_journal_cleanup_dedupes(folder):
    s = AnnotationStore.for_folder(folder, compact_every=0)
    for i in range(3):
        s.append(corrected(i), image=img(i))
    saved = {p.name: p.read_bytes() for p in s.journal_dir.glob("*.h5")}
    s.close()  # compacts and deletes the journal
    for name, data in saved.items():  # as if the kill came before the deletion
        (s.journal_dir / name).write_bytes(data)
    with AnnotationStore.for_folder(folder) as s2:
        assert len(s2) == 3 and all(s2.revision_count(sha(i)) == 1 for i in range(3))
        assert s2.journal_size == 0 and not s2.damaged


def test_second_writer_is_refused_with_a_clear_message(folder):
    s = AnnotationStore.for_folder(folder)
    with pytest.raises(StoreLockedError, match="already open in this process"):
        AnnotationStore.for_folder(folder)
    with AnnotationStore.for_folder(folder, readonly=True):
        pass  # readers are fine
    s.close()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock = s.path.with_name("annotations.h5.lock")
        lock.write_text(f"{other.pid} {__import__('socket').gethostname()}\n")
        with pytest.raises(StoreLockedError, match=f"in use by process {other.pid}"):
            AnnotationStore.for_folder(folder)
    finally:
        other.kill()
        other.wait()
    with AnnotationStore.for_folder(folder) as s3:  # the dead owner's lock is stale
        assert [e.kind for e in s3.recovery] == ["stale-lock"] and not s3.damaged


def test_thread_safe_appends(folder):
    s = AnnotationStore.for_folder(folder, compact_every=7)
    errors = []

    def worker(k):
        try:
            for i in range(k * 10, k * 10 + 10):
                s.append(corrected(i), image=img(i))
                s.current_all(masks=False)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(s) == 30
    seqs = sorted(s.current(sha(i)).seq for i in range(30))
    assert seqs == list(range(1, 31))
    s.close()


def test_leftover_temp_files_are_removed(folder):
    s = AnnotationStore.for_folder(folder)
    s.append(corrected(1), image=img(1))
    s.close(compact=False)
    (s.journal_dir / ".tmp-000000002-x.h5").write_bytes(b"half")
    (s.path.parent / "annotations.h5.tmp-abc").write_bytes(b"half")
    with AnnotationStore.for_folder(folder) as s2:
        assert len(s2) == 1 and not s2.damaged
    assert not (s.journal_dir / ".tmp-000000002-x.h5").exists()
    assert os.listdir(s.path.parent).count("annotations.h5.tmp-abc") == 0
