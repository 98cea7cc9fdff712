"""app.core.atomic: a file is the old one or the whole new one, never half."""

from __future__ import annotations

import os
import sys

import pytest

from app.core import atomic


def test_write_replaces_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "report.csv"
    atomic.write_text(target, "a,b\r\n1,2\r\n")
    assert target.read_bytes() == b"a,b\r\n1,2\r\n"  # line endings as given, on every OS
    atomic.write_bytes(target, b"new", durable=False)
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.csv"]


def test_failed_swap_keeps_the_old_file_and_removes_the_temp(tmp_path, monkeypatch):
    target = tmp_path / "index.json"
    target.write_text("old")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(OSError):
        atomic.write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]


def test_temp_prefix_names_files_in_flight(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", spy)
    atomic.write_bytes(tmp_path / "entry.h5", b"x", temp_prefix=".tmp-")
    assert seen and seen[0].startswith(".tmp-entry.h5.")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_permissions_are_kept_or_readable_by_others(tmp_path):
    fresh = tmp_path / "fresh.txt"
    atomic.write_text(fresh, "x")
    assert fresh.stat().st_mode & 0o777 == 0o644
    kept = tmp_path / "kept.txt"
    kept.write_text("x")
    kept.chmod(0o640)
    atomic.write_text(kept, "y")
    assert kept.stat().st_mode & 0o777 == 0o640


def test_a_share_that_refuses_chmod_still_saves(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "chmod", refuse)
    atomic.write_text(tmp_path / "report.csv", "ok")
    assert (tmp_path / "report.csv").read_text() == "ok"
