"""The `grade` command's contract, run as a user would: `python main.py grade ...`."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from app.core.imaging import write_png
from app.core.report import FIELDNAMES, read_report, summary_path
from model.checkpoint import save_checkpoint
from model.config import named_config
from model.network import AttnRegDeepLab
from tests.gui.conftest import embryo_like

ROOT = Path(__file__).resolve().parents[1]
# '/' cannot be part of a file name on POSIX, so the link has no "//"
GOOD = ['=HYPERLINK("http:x")+1.png', "-3.png", "plain.png", 'sub/a, "b"\nc é 胚.png',
        "D2013.01.28_S0717_I132_WELL7_RUN1_F-15.png"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    torch.manual_seed(0)  # an untrained model: seeded, so it finds an embryo in embryo_like frames
    save_checkpoint(path, AttnRegDeepLab(named_config("attnregdeeplab", width=0.125, input_size=64)))
    return path


def grade(*args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "main.py", "grade", *map(str, args), "--threads", "1", "--device", "cpu"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=300)


def make_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "cycle 12"
    (folder / "sub").mkdir(parents=True)
    for i, name in enumerate(GOOD):
        write_png(folder / name, embryo_like(i, 128))
    (folder / "x.png").write_bytes(b"\x00garbage" * 50)
    (folder / "z.tif").write_bytes(b"")
    return folder


def test_grade_report_resume_and_force(tmp_path, checkpoint):
    folder = make_folder(tmp_path)
    ids = tmp_path / "ids.csv"
    ids.write_text("first_name,last_name,birth_date,folder_or_prefix,id\n"
                   "Jane,Doe,1980-01-01,sub/,C-0042\n", encoding="utf-8")
    out = tmp_path / "out" / "report.csv"

    r = grade(folder, "--out", out, "--model", checkpoint, "--recursive", "--ids", ids, "--batch-size", "2")
    assert r.returncode == 1, r.stderr
    bad = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(bad) == 2 and any("x.png" in b for b in bad) and any("z.tif" in b for b in bad)
    assert "img/s" in r.stderr and "ETA" in r.stderr

    first, rows = read_report(out)
    assert first.startswith("# EmbryoGrade") and first.endswith("For research use only")
    unreadable = {row["image"]: row for row in rows if row["status"] == "unreadable"}
    assert sorted(unreadable) == ["x.png", "z.tif"]  # every file of the folder has its row
    assert all(r["warnings"] and r["grade"] == r["final_grade"] == "" for r in unreadable.values())
    rows = [row for row in rows if row["status"] != "unreadable"]
    assert sorted(row["image"] for row in rows) == sorted(GOOD)
    assert all(len(row["sha256"]) == 64 and row["status"] == "model" for row in rows)
    by_name = {row["image"]: row for row in rows}
    assert by_name['sub/a, "b"\nc é 胚.png']["patient_id"] == "C-0042"
    assert by_name["plain.png"]["patient_id"] == "cycle 12"
    tl = by_name["D2013.01.28_S0717_I132_WELL7_RUN1_F-15.png"]
    assert (tl["well"], tl["focal_plane"]) == ("7", "-15")
    text = out.read_text("utf-8")
    assert "Jane" not in text and "Doe" not in text and "1980" not in text
    _, raw = read_report(out, restore=False)
    assert list(raw[0]) == list(FIELDNAMES)
    for row in raw:
        assert not row["image"].startswith(("=", "+", "-", "@"))
        if row["status"] != "unreadable":
            float(row["fragment_pct_mask"])  # numeric columns stay plain numbers
    assert "failed: 2" in summary_path(out).read_text("utf-8")

    again = grade(folder, "--out", out, "--model", checkpoint, "--recursive")
    assert again.returncode == 1
    assert f"{len(GOOD)} reused from the cache" in again.stderr
    _, rows2 = read_report(out)
    rows2 = [r for r in rows2 if r["status"] != "unreadable"]
    assert [r["fragment_pct_mask"] for r in rows2] == [r["fragment_pct_mask"] for r in rows]

    forced = grade(folder, "--out", out, "--model", checkpoint, "--recursive", "--force")
    assert "0 reused from the cache" in forced.stderr


def test_corrupt_checkpoint_is_refused(tmp_path):
    folder = make_folder(tmp_path)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 not really a checkpoint")
    out = tmp_path / "report.csv"
    r = grade(folder, "--out", out, "--model", bad)
    assert r.returncode == 2
    assert "no usable model" in r.stderr and "bad.pt" in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


@pytest.mark.skipif(importlib.util.find_spec("app.core.store") is None, reason="annotation store not here")
def test_report_prefers_the_annotation_store(tmp_path, checkpoint):
    from app.core.imaging import read_image, sha256_file
    from app.core.store import AnnotationStore, Revision

    folder = tmp_path / "f"
    folder.mkdir()
    img = embryo_like(5, 128)
    write_png(folder / "e1.png", img)
    write_png(folder / "e2.png", img[::-1].copy())
    mask = np.zeros((128, 128), np.uint8)
    mask[30:90, 30:90] = 1
    mask[40:60, 40:60] = 2  # 400 / 3600 = 11.1 %
    with AnnotationStore.for_folder(folder) as store:
        store.append(Revision(sha256=sha256_file(folder / "e1.png"), path="e1.png", status="corrected",
                              annotator="emb07", mask=mask, fragment_fraction=400 / 3600,
                              grade="2", scheme="istanbul"), read_image(folder / "e1.png"))
    out = tmp_path / "r.csv"
    r = grade(folder, "--out", out, "--model", checkpoint, "--scheme", "asebir")
    assert r.returncode == 0, r.stderr
    _, rows = read_report(out)
    e1, e2 = rows
    assert e1["status"] == "corrected" and e1["annotator"] == "emb07"
    assert e1["corrected_fragment_pct"] == "11.11" and e1["final_grade"] == "B"  # asebir of 11.1 %
    assert e1["fragment_pct_mask"] != "" and e1["reviewed_utc"].endswith("Z")
    assert e2["status"] == "model" and e2["final_grade"] == e2["grade"]
