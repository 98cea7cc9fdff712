"""`main.py evaluate`: the predictor path, the JSON keys, the plots; summaries on a hand case."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from model.grading import get_scheme
from model.training import metrics as M
from model.training.evaluation import summarise


def _write_set(root, n=2, size=160):
    from model.synth import generate

    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        s = generate(100 + i, style="timelapse", size=size)
        cv2.imwrite(str(root / "images" / f"s{i}.png"), s.image)
        cv2.imwrite(str(root / "masks" / f"s{i}.png"), s.mask)
    return root


def test_evaluate_command_json_and_plots(tmp_path, tiny_checkpoint, capsys):
    from main import main

    data = _write_set(tmp_path / "set")
    out, plots = tmp_path / "eval.json", tmp_path / "plots"
    rc = main(["evaluate", "--data", str(data), "--model", str(tiny_checkpoint), "--json", str(out),
               "--plots", str(plots), "--device", "cpu", "--threads", "1", "--quiet"])
    assert rc == 0
    res = json.loads(out.read_text())
    for key in ("n_images", "fragment_dice", "blastomere_dice", "fraction_mae_pts_mask",
                "fraction_mae_pts_regression", "grade_accuracy", "grade_kappa_quadratic",
                "confusion_matrix", "bland_altman_mask_pts"):
        assert key in res
    assert res["n_images"] == 2 and len(res["images"]) == 2
    for name in ("bland_altman_mask.png", "confusion.png", "calibration_mask.png", "bland_altman_regression.png"):
        img = cv2.imread(str(plots / name))
        assert img is not None and img.shape[2] == 3
    assert "fragment_dice" in capsys.readouterr().out


def test_summarise_hand_case():
    sc = M.SegCounter(3)
    sc.update(np.array([[1, 2]]), np.array([[1, 2]]))
    rows = [
        {"true_pct": 5.0, "mask_pct": 7.0, "regression_pct": 4.0, "true_grade": "1", "mask_grade": "1",
         "regression_grade": "1"},
        {"true_pct": 20.0, "mask_pct": 30.0, "regression_pct": 21.0, "true_grade": "2", "mask_grade": "3",
         "regression_grade": "2"},
    ]
    res = summarise(rows, sc, get_scheme("istanbul"))
    assert res["fragment_dice"] == pytest.approx(1.0)
    assert res["fraction_mae_pts_mask"] == pytest.approx(6.0)
    assert res["fraction_mae_pts_regression"] == pytest.approx(1.0)
    assert res["grade_accuracy"] == pytest.approx(0.5) and res["grade_accuracy_regression"] == pytest.approx(1.0)
    assert res["bland_altman_mask_pts"]["bias"] == pytest.approx(6.0)
    assert res["confusion_matrix"] == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]
