"""What the grade panel says about the ± and unusual images (the strings the window shows)."""

from __future__ import annotations

import numpy as np

from app.gui.grade_panel import flags_text, model_values
from model.predictor import Prediction


def _pred(**kw):
    base = dict(class_mask=np.zeros((8, 8), np.uint8), probabilities=np.zeros((8, 8, 3), np.float32),
                attention={}, fraction_mask=0.12, fraction_regression=0.1, grade="2", scheme="istanbul",
                uncertainty=6.5, borderline=False, disagreement=False, model_version="m",
                embryo_box=(0, 0, 8, 8))
    return Prediction(**{**base, **kw})


def test_calibrated_interval_says_its_coverage_and_raw_spread_says_it_is_not():
    assert model_values(_pred(interval_coverage=0.8))["uncertainty"] == "± 6.5 points (80% interval)"
    assert "not calibrated" in model_values(_pred())["uncertainty"]


def test_unusual_images_are_flagged():
    assert any("unusual image" in f for f in flags_text(_pred(unusual=True)))
    assert not any("unusual" in f for f in flags_text(_pred()))
