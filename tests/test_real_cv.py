"""Leave one embryo out: every embryo held out once, never in its own fold's training or bank."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from app.core import datasets as ds
from app.core import real_cv
from app.core.imaging import write_png
from model.synth import generate


@pytest.fixture(scope="module")
def three_embryos(tmp_path_factory):
    root = tmp_path_factory.mktemp("cv")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    for e in range(3):
        for run in (1, 2):
            s = generate(100 * e + run, style="timelapse", size=320)
            name = f"D2024.01.0{e + 1}_S1_I1_WELL0{e + 1}_RUN{run}"
            write_png(root / "images" / f"{name}.png", s.image)
            write_png(root / "masks" / f"{name}.png", s.mask)
    return root


def test_folds_hold_out_each_embryo_and_its_texture(three_embryos):
    real = ds.open_data(str(three_embryos))
    groups = real_cv.embryo_groups(real)
    assert len(groups) == 3 and all(len(v) == 2 for v in groups.values())
    recipe = real_cv.Recipe(real_repeat=2, synth_per_epoch=3)
    for k, (embryo, held_out) in enumerate(sorted(groups.items())):
        assert all(real.key(i) == embryo for i in held_out)
        held_in = [i for e, idx in groups.items() if e != embryo for i in idx]
        frames = real_cv.training_frames(real, held_in, recipe, k)
        keys = {frames.key(i) for i in range(len(frames)) if not frames.key(i).startswith("synth-")}
        assert embryo not in keys and len(keys) == 2
        synth = frames.parts[1]
        assert synth.bank is not None and synth.bank.sources == len(held_in)  # cut from held-in frames only


def test_cli_trains_each_fold_and_reports_per_embryo_and_pooled(three_embryos, tiny_checkpoint, tmp_path, capsys):
    from app.cli import evaluate_cmd

    p = argparse.ArgumentParser()
    evaluate_cmd.add_arguments(p)
    out = tmp_path / "cv.json"
    args = p.parse_args(["--data", str(three_embryos), "--leave-one-embryo-out", "--steps", "2",
                         "--synth", "2", "--model", str(tiny_checkpoint), "--out", str(tmp_path / "runs"),
                         "--json", str(out), "--threads", "1", "--quiet"])
    assert evaluate_cmd.run(args) == 0
    res = json.loads(out.read_text())
    assert [f["frames"] for f in res["folds"]] == [2, 2, 2]
    assert res["pooled"]["frames"] == 6 and len(res["images"]) == 6
    assert {r["embryo"] for r in res["images"]} == {f["embryo"] for f in res["folds"]}
    for r in res["images"]:
        assert r["false_fragment_pct"] is None or 0 <= r["false_fragment_pct"] <= 100
    assert all((tmp_path / "runs" / f"fold{k}" / "last.pt").is_file() for k in range(3))
    text = capsys.readouterr().out
    assert "pooled" in text and "held-out embryo" in text
    # The baseline (0 minutes) trains nothing and scores the starting model.
    args = p.parse_args(["--data", str(three_embryos), "--leave-one-embryo-out", "--minutes", "0",
                         "--model", str(tiny_checkpoint), "--out", str(tmp_path / "base"), "--quiet"])
    assert evaluate_cmd.run(args) == 0
    assert not (tmp_path / "base").exists()


def test_one_embryo_is_refused(tmp_path, tiny_checkpoint, capsys):
    from app.cli import evaluate_cmd

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    s = generate(1, style="timelapse", size=128)
    write_png(tmp_path / "images" / "D2024.01.01_S1_I1_WELL01_RUN1.png", s.image)
    write_png(tmp_path / "masks" / "D2024.01.01_S1_I1_WELL01_RUN1.png", s.mask)
    p = argparse.ArgumentParser()
    evaluate_cmd.add_arguments(p)
    args = p.parse_args(["--data", str(tmp_path), "--leave-one-embryo-out", "--minutes", "0",
                         "--model", str(tiny_checkpoint)])
    assert evaluate_cmd.run(args) == 2
    assert "at least two embryos" in capsys.readouterr().err


def test_false_fragment_area_is_fragment_on_true_blastomere():
    from model.training.evaluation import false_fragment_pct

    truth = np.zeros((10, 10), np.uint8)
    truth[2:8, 2:8] = 1  # 36 blastomere pixels
    pred = truth.copy()
    pred[2:5, 2:5] = 2  # 9 of them called fragment
    pred[0, 0] = 2  # background called fragment: not this metric's business
    assert false_fragment_pct(pred, truth) == pytest.approx(25.0)
    assert false_fragment_pct(pred, np.zeros_like(truth)) is None
