"""The synthetic generator: determinism, exact labels, both looks, grade balance, CLI."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from model.grading import fragment_fraction, get_scheme
from model.synth import SynthSample, frame_shape, generate

SIZE = 256


def test_same_seed_same_arrays():
    for style in (None, "timelapse", "inverted"):
        a, b = generate(7, style=style, size=SIZE), generate(7, style=style, size=SIZE)
        assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
        assert a.fraction == b.fraction and a.style == b.style
    assert not np.array_equal(generate(8, size=SIZE).image, generate(9, size=SIZE).image)


@pytest.mark.parametrize("style", ["timelapse", "inverted"])
def test_shapes_dtypes_and_fraction(style):
    for seed in range(4):
        s = generate(seed, style=style, size=SIZE)
        assert isinstance(s, SynthSample) and s.style == style
        h, w = frame_shape(style, SIZE)
        assert s.mask.shape == (h, w) and s.mask.dtype == np.uint8
        assert s.image.dtype == np.uint8
        assert s.image.shape == ((h, w) if style == "timelapse" else (h, w, 3))
        assert set(np.unique(s.mask)) <= {0, 1, 2}
        assert s.fraction == fragment_fraction(s.mask)
        assert np.count_nonzero(s.mask == 1) > 0
        assert s.image.std() > 5  # not a blank frame


def test_inverted_frame_is_960_by_1280_at_800():
    assert frame_shape("inverted", 800) == (960, 1280)
    assert frame_shape("timelapse", 800) == (800, 800)


def test_style_chosen_by_seed_is_mixed():
    styles = [generate(i, size=128).style for i in range(30)]
    assert 8 <= styles.count("inverted") <= 22


def test_target_fraction_is_met():
    for t in (0.0, 0.05, 0.2, 0.4):
        s = generate(3, size=SIZE, target_fraction=t)
        assert abs(s.fraction - t) < 0.02
    assert generate(3, size=SIZE, target_fraction=0.0).meta["n_fragments"] == 0


def test_grades_balanced_and_realised_in_target_grade():
    scheme = get_scheme("istanbul")
    agree, grades, zeros = 0, [], 0
    n = 60
    for seed in range(n):
        s = generate(seed, size=192)
        g = scheme.grade(100 * s.fraction)
        grades.append(g)
        agree += g == s.meta["target_grade"]
        zeros += s.fraction == 0
    assert agree >= 0.9 * n
    for g in ("1", "2", "3"):
        assert grades.count(g) >= n // 6, grades
    assert zeros >= 1


@pytest.mark.parametrize("style", ["timelapse", "inverted"])
def test_labels_inside_zona_and_debris_outside_is_background(style):
    for seed in range(6):
        s = generate(seed, style=style, size=SIZE)
        cx, cy = s.meta["centre"]
        yy, xx = np.nonzero(s.mask)
        d = np.hypot(xx - cx, yy - cy)
        assert d.max() <= s.meta["zona_inner_radius"] + 1.5
        for x, y, _r in s.meta["debris"]:
            xi, yi = int(round(x)), int(round(y))
            if 0 <= yi < s.mask.shape[0] and 0 <= xi < s.mask.shape[1]:
                assert s.mask[yi, xi] == 0
                assert np.hypot(x - cx, y - cy) > s.meta["zona_outer_radius"]


def test_cli_writes_layout_and_manifest_matches_masks(tmp_path):
    from app.cli.dispatch import run

    out = tmp_path / "set"
    assert run(["synth", "--out", str(out), "--n", "4", "--seed", "5", "--size", "128"]) == 0
    rows = list(csv.DictReader(open(out / "manifest.csv", encoding="utf-8")))
    assert [r["name"] for r in rows] == [f"synth_{i:05d}" for i in range(4)]
    for i, r in enumerate(rows):
        assert {"name", "fragment_pct", "grade", "style"} <= set(r)
        img = cv2.imread(str(out / "images" / f"{r['name']}.png"), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(out / "masks" / f"{r['name']}.png"), cv2.IMREAD_UNCHANGED)
        assert img is not None and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1, 2}
        pct = 100 * fragment_fraction(mask)
        assert float(r["fragment_pct"]) == pytest.approx(round(pct, 2), abs=0.006)
        assert r["grade"] == get_scheme("istanbul").grade(pct)
        again = generate(5 + i, size=128)  # any item can be regenerated alone
        assert np.array_equal(again.mask, mask) and again.style == r["style"]


def test_cli_style_option(tmp_path):
    from app.cli.dispatch import run

    assert run(["synth", "--out", str(tmp_path), "--n", "2", "--size", "96", "--style", "inverted"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "manifest.csv", encoding="utf-8")))
    assert {r["style"] for r in rows} == {"inverted"}
    img = cv2.imread(str(tmp_path / "images" / "synth_00000.png"), cv2.IMREAD_UNCHANGED)
    assert img.shape == (round(960 * 96 / 800), round(1280 * 96 / 800), 3)
