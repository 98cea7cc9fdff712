"""Report rows, CSV safety, summaries and the batch engine (in-process, tiny real model)."""

from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from app.core.batch import grade_images
from app.core.csv_safety import restore_text, safe_number, safe_text
from app.core.imaging import list_images, write_png
from app.core.pseudonym import IdMapper, MappingError
from app.core.report import (
    CONVENTION,
    FIELDNAMES,
    build_rows,
    header_comment,
    make_row,
    read_report,
    summary_path,
    write_report,
)
from app.core.result_cache import ResultCache
from model.checkpoint import save_checkpoint
from model.config import named_config
from model.network import AttnRegDeepLab
from model.predictor import Predictor
from tests.gui.conftest import embryo_like

SHA = "ab" * 32
NASTY = ['=HYPERLINK("http:x")+1.png', "+1.png", "-2.png", "@SUM(A1).png", "\tx.png",
         "'quoted.png", 'a, "b"\nc é ñ 胚.png', "plain.png"]


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    torch.manual_seed(0)  # an untrained model: seeded, so it finds an embryo in embryo_like frames
    torch_model = AttnRegDeepLab(named_config("attnregdeeplab", width=0.125, input_size=64))
    save_checkpoint(path, torch_model, {"purpose": "test"})
    return CountingPredictor.from_checkpoint(path, device="cpu", threads=1, tta=False)


class CountingPredictor(Predictor):
    """A real predictor that counts the images it ran the network on."""

    calls = 0

    def predict_batch(self, images, scheme="istanbul", batch_size=4):
        images = list(images)
        self.calls += len(images)
        return super().predict_batch(images, scheme=scheme, batch_size=batch_size)


def _image(seed: int, shape=(128, 128)) -> np.ndarray:
    # embryo-like, not noise: a noise frame is "no embryo found" and gets no grade
    return embryo_like(seed, shape[0])


# -- CSV safety ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@x", "\tx", "\rx", "＝1", "'x", "''=x"])
def test_text_cells_are_neutralised_and_restorable(text):
    cell = safe_text(text)
    assert cell.startswith("'")
    assert restore_text(cell) == text


def test_harmless_text_is_unchanged():
    assert safe_text("a.png") == "a.png"
    assert safe_text(None) == ""


def test_numeric_cells():
    assert safe_number(12.345) == "12.35"
    assert safe_number(None) == "" and safe_number(math.nan) == ""
    assert safe_number(-15, decimals=None, allow_negative=True) == "-15"
    with pytest.raises(ValueError):
        safe_number(-0.5)  # a fragmentation % is never negative
    with pytest.raises(TypeError):
        safe_number("=1+1")  # text never reaches a numeric column


# -- rows and round trip --------------------------------------------------------------------------
def test_round_trip_with_nasty_names(tmp_path):
    rows = [make_row(f"sub dir/{name}", SHA, patient_id="-P1" if i == 0 else "P2")
            for i, name in enumerate(NASTY)]
    out = tmp_path / "r.csv"
    write_report(out, rows)
    first, back = read_report(out)
    assert first == header_comment() and "For research use only" in first
    assert [r["image"] for r in back] == [f"sub dir/{n}" for n in NASTY]
    assert back[0]["patient_id"] == "-P1"
    # raw cells: every text cell that a spreadsheet would evaluate starts with a quote
    _, raw = read_report(out, restore=False)
    for r in raw:
        for name, value in r.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (name, value)
    assert list(raw[0]) == list(FIELDNAMES)


def test_written_with_csv_module_and_atomically(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("old", encoding="utf-8")
    write_report(out, [make_row("a.png", SHA)])
    with open(out, encoding="utf-8", newline="") as f:
        assert f.readline().startswith("# EmbryoGrade")
        rows = list(csv.reader(f))
    assert rows[0] == list(FIELDNAMES) and len(rows) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert summary_path(out).name == "r.summary.txt"


def test_time_lapse_fields_and_negative_focal_plane(tmp_path):
    row = make_row("D2013.01.28_S0717_I132_WELL7_RUN1_F-15_44.5h.jpeg", SHA)
    assert (row["well"], row["focal_plane"], row["hpi"]) == (7, -15, 44.5)
    assert row["embryo_id"] == "D2013.01.28_S0717_I132_WELL7"
    write_report(tmp_path / "r.csv", [row])
    _, raw = read_report(tmp_path / "r.csv", restore=False)
    assert raw[0]["focal_plane"] == "-15" and raw[0]["hpi"] == "44.50"


def test_prediction_and_corrections(predictor):
    pred = predictor.predict(_image(1))
    row = make_row("a.png", SHA, pred, scheme="asebir")
    assert row["status"] == "model" and row["scheme"] == "asebir"
    assert row["grade"] in "ABCD" and row["fragmentation_convention"] == CONVENTION
    assert row["final_grade"] == row["grade"]

    corrected = {"status": "corrected", "fragment_fraction": 0.30, "grade": "3", "scheme": "istanbul",
                 "annotator": "emb01", "time_utc": "2025-01-02T03:04:05Z"}
    row = make_row("a.png", SHA, pred, corrected, scheme="asebir")
    assert row["status"] == "corrected" and row["corrected_fragment_pct"] == pytest.approx(30.0)
    assert row["corrected_grade"] == "C" and row["final_grade"] == "C"  # converted to the report's scheme
    assert row["fragment_pct_mask"] == pytest.approx(pred.fragment_pct_mask)  # model kept
    assert row["annotator"] == "emb01" and row["reviewed_utc"] == "2025-01-02T03:04:05Z"

    override = {"status": "grade-only", "grade": "3", "scheme": "istanbul", "annotator": "emb02",
                "grade_reason": "other", "reason_text": "multinucleation"}
    row = make_row("a.png", SHA, pred, override, scheme="istanbul")
    assert row["status"] == "corrected" and row["final_grade"] == "3"
    assert row["override_reason"] == "other: multinucleation" and row["final_fragment_pct"] is None

    reviewed = {"status": "reviewed", "annotator": "emb03"}
    row = make_row("a.png", SHA, pred, reviewed)
    assert row["status"] == "reviewed" and row["final_grade"] == pred.grade
    assert row["corrected_fragment_pct"] == pytest.approx(pred.fragment_pct_mask)


def test_summary_counts(tmp_path, predictor):
    pred = predictor.predict(_image(2))
    rows = [make_row("a.png", SHA, pred),
            make_row("b.png", SHA, pred, {"status": "corrected", "fragment_fraction": 0.5,
                                          "annotator": "x"}),
            make_row("c.png", SHA, None, {"status": "reviewed", "grade": "2", "annotator": "y"})]
    s = write_report(tmp_path / "r.csv", rows, failures=[("bad.png", "bad.png: file is empty")])
    assert (s["images"], s["rows"], s["failed"]) == (4, 3, 1)
    assert s["status"] == {"model": 1, "reviewed": 1, "corrected": 1, "ungraded": 0,
                           "no embryo": 0, "several embryos": 0, "unreadable": 1}
    assert s["per_final_grade"] == dict(sorted(Counter([pred.grade, "3", "2"]).items()))
    text = summary_path(tmp_path / "r.csv").read_text("utf-8")
    assert "bad.png" in text and "For research use only" in text


# -- pseudonymous ids -------------------------------------------------------------------------------
def test_id_mapping_uses_only_its_two_columns(tmp_path):
    m = tmp_path / "ids.csv"
    m.write_text("first_name,folder_or_prefix,last_name,id,birth_date\n"
                 "Jane,p07/,Doe,C-0007,1980-01-01\nJohn,p07/day3/,Roe,C-0008,1981-02-02\n"
                 "Ann,D2024.10.20_S01055,Poe,C-0009,1982-03-03\n", encoding="utf-8")
    ids = IdMapper.from_csv(m, folder_name="batch1")
    assert ids.id_for("p07/a.png") == "C-0007"
    assert ids.id_for("p07/day3/a.png") == "C-0008"  # longest prefix wins
    assert ids.id_for("D2024.10.20_S01055_I4778_P_WELL06_RUN141.jpg") == "C-0009"
    assert ids.id_for("other/a.png") == "other" and ids.id_for("a.png") == "batch1"
    (tmp_path / "bad.csv").write_text("name,id\nx,y\n", encoding="utf-8")
    with pytest.raises(MappingError):
        IdMapper.from_csv(tmp_path / "bad.csv")


# -- batch engine -------------------------------------------------------------------------------------
def _folder(tmp_path, n=3):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(n):
        write_png(folder / f"e{i}.png", _image(10 + i))
    return folder


def test_batch_resumes_and_force_regrades(tmp_path, predictor):
    folder = _folder(tmp_path)
    (folder / "x.png").write_bytes(b"not an image")
    images = list_images(folder)
    predictor.calls = 0
    events = list(grade_images(folder, images, predictor, ResultCache(folder), batch_size=2))
    kinds = sorted(e.kind for e in events)
    assert kinds == ["failed", "graded", "graded", "graded"] and predictor.calls == 3
    assert [e for e in events if e.kind == "failed"][0].error.startswith(str(folder / "x.png"))
    assert events[-1].done == events[-1].total == 4

    predictor.calls = 0
    events = list(grade_images(folder, images, predictor, ResultCache(folder)))
    assert sorted(e.kind for e in events) == ["cached", "cached", "cached", "failed"]
    assert predictor.calls == 0

    events = list(grade_images(folder, images, predictor, ResultCache(folder), force=True))
    assert predictor.calls == 3 and sum(e.kind == "graded" for e in events) == 3


def test_build_rows_for_gui_export(tmp_path, predictor):
    folder = _folder(tmp_path, 2)
    cache = ResultCache(folder)
    list(grade_images(folder, [folder / "e0.png"], predictor, cache))
    sha1 = cache.file_sha256(folder / "e1.png")
    store = {sha1: {"status": "grade-only", "grade": "2", "scheme": "istanbul", "annotator": "emb",
                    "grade_reason": "image poor"}}
    failures = []
    rows = build_rows(folder, [*list_images(folder), folder / "gone.png"], cache, store, "istanbul",
                      predictor.version, failures=failures)
    assert [r["image"] for r in rows] == ["e0.png", "e1.png"]
    assert [f[0] for f in failures] == ["gone.png"]
    assert rows[0]["status"] == "model" and rows[0]["model_version"] == predictor.version
    assert rows[1]["status"] == "corrected" and rows[1]["final_grade"] == "2"
    assert rows[1]["fragment_pct_mask"] is None  # never graded by the model
    assert rows[0]["patient_id"] == "imgs"
    write_report(tmp_path / "r.csv", rows)


def test_every_column_is_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "report-format.md").read_text("utf-8")
    assert [n for n in FIELDNAMES if f"`{n}`" not in doc] == []
