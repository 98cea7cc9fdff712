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


def test_edge_contrast_kernel_equals_sobel_and_laplacian():
    # The folded 3x3 kernel must stay the relief (directional Sobel) minus the
    # defocus Laplacian of the blurred height, as first written.
    from model.synth import microscope

    rng = np.random.default_rng(0)
    H = cv2.GaussianBlur(rng.random((64, 80)).astype(np.float32), (0, 0), 2.0)
    T = np.zeros_like(H)
    box, sigma, relief, angle, lap = (5, 7, 70, 60), 1.4, 1.3, 2.1, 0.4
    microscope.edge_contrast(T, H, box, sigma, relief, angle, lap)
    x0, y0, x1, y1 = box
    hb = cv2.GaussianBlur(H[y0:y1, x0:x1], (0, 0), sigma)
    gx = cv2.Sobel(hb, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(hb, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    want = relief * (np.cos(angle) * gx + np.sin(angle) * gy) * sigma
    want -= lap * cv2.Laplacian(hb, cv2.CV_32F, ksize=3) * sigma**2
    assert np.allclose(T[y0:y1, x0:x1], want, atol=1e-6)
    assert not T[:y0].any() and not T[:, :x0].any()


def test_batched_fragment_outlines_have_the_asked_size():
    from model.synth import shapes

    units = shapes.unit_blobs(np.random.default_rng(1), 16, 0.08, 20, (0.75, 1.0))
    assert units.shape == (16, 20, 2)
    for u in units:
        poly = shapes.place(u, 40.0, 30.0, 8.0)
        d = np.hypot(poly[:, 0] / shapes.ONE - 40.0, poly[:, 1] / shapes.ONE - 30.0)
        assert d.max() <= 8.0 * 1.1 and d.min() >= 8.0 * 0.75 * 0.9
        m = np.zeros((64, 64), np.uint8)
        shapes.fill(m, poly, 1)
        assert 0.6 < m.sum() / (np.pi * 64.0) < 1.1
