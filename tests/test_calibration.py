"""Calibrated ± and the unusual-image score: the fit, hostile metadata, the predictor, the CLI."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from model.calibration import Calibration, coverage_of, fit_interval, fit_latent
from model.checkpoint import load_checkpoint, save_checkpoint
from model.predictor import Predictor


def test_fit_covers_the_target_share_and_no_more_than_needed():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 3, 400)
    pct = rng.uniform(0, 40, 400)
    err = rng.normal(0, 1 + 0.2 * pct)  # errors grow with the fraction, as on real frames
    offset, scale, slope = fit_interval(raw, pct, err, 0.8)
    cal = Calibration(coverage=0.8, offset=offset, scale=scale, slope=slope)
    cov = coverage_of(cal, raw, pct, err)
    assert 0.8 <= cov <= 0.85
    assert slope > 0  # it found that errors grow with the fraction
    # The raw spread alone (scale 1, nothing else) covers far less than promised here.
    assert coverage_of(Calibration(), raw, pct, err) < 0.6


@pytest.mark.parametrize("bad", [
    {"calibration": "x"}, {"calibration": {"coverage": "nan", "offset": 1, "scale": 1, "slope": 0}},
    {"calibration": {"coverage": 2, "offset": 1, "scale": 1, "slope": 0}},
    {"calibration": {"coverage": 0.8, "offset": 1}},
    {"calibration": {"coverage": 0.8, "offset": 1, "scale": 1, "slope": 0, "latent_mean": [1], "latent_std": []}},
])
def test_hostile_or_damaged_metadata_means_uncalibrated(bad):
    assert Calibration.from_metadata(bad) is None


def test_predictor_reports_interval_and_flags_unusual_images(tiny_checkpoint, tmp_path):
    ck = load_checkpoint(tiny_checkpoint)
    img = np.random.default_rng(1).integers(0, 255, (96, 96), dtype=np.uint8)
    plain = Predictor(ck.model, ck.version, device="cpu", metadata=ck.metadata).predict(img)
    assert plain.interval_coverage is None and math.isnan(plain.ood_score) and not plain.unusual
    lat = plain.latent
    assert lat is not None and lat.ndim == 1
    near = Calibration(offset=2.0, scale=0.0, slope=0.0, latent_mean=lat.tolist(),
                       latent_std=[1.0] * len(lat), ood_threshold=0.5)
    far = Calibration(offset=2.0, scale=0.0, slope=0.0, latent_mean=(lat + 100).tolist(),
                      latent_std=[1.0] * len(lat), ood_threshold=0.5)
    for cal, unusual in ((near, False), (far, True)):
        p = Predictor(ck.model, ck.version, device="cpu", metadata={"calibration": cal.to_dict()}).predict(img)
        assert p.interval_coverage == 0.8 and p.uncertainty == pytest.approx(2.0)
        assert p.unusual is unusual
        assert any("unlike the images" in w for w in p.warnings) is unusual
        assert p.summary()["unusual"] is unusual


def test_calibrate_cli_writes_a_calibrated_copy(tiny_checkpoint, tmp_path, capsys):
    from app.cli import calibrate_cmd

    rows = [{"uncertainty": 1.0, "mask_pct": 10.0 + k, "true_pct": 10.0 + k * 0.5} for k in range(12)]
    cv = tmp_path / "cv.json"
    cv.write_text(json.dumps({"images": rows}))
    out = tmp_path / "cal.pt"
    parser = argparse.ArgumentParser()
    calibrate_cmd.add_arguments(parser)
    args = parser.parse_args(["--model", str(tiny_checkpoint), "--cv", str(cv), "--synthetic", "4",
                              "--out", str(out), "--threads", "1"])
    assert calibrate_cmd.run(args) == 0
    got = load_checkpoint(out)
    cal = Calibration.from_metadata(got.metadata)
    assert cal is not None and cal.measured["real held-out"]["frames"] == 12
    assert cal.measured["real held-out"]["coverage"] >= 0.8
    assert len(cal.latent_mean) == len(cal.latent_std) > 0 and math.isfinite(cal.ood_threshold)
    assert got.version != load_checkpoint(tiny_checkpoint).version
    assert "coverage" in capsys.readouterr().out


def test_fit_latent_threshold_is_the_training_quantile():
    z = np.random.default_rng(2).normal(size=(500, 8))
    mu, sd, thr = fit_latent(z, 0.99)
    cal = Calibration(latent_mean=mu, latent_std=sd, ood_threshold=thr)
    scores = np.array([cal.ood_score(v) for v in z])
    assert 0.985 <= np.mean(scores <= thr) <= 0.995
    assert cal.ood_score(np.full(8, 10.0)) > thr


def test_save_keeps_calibration_through_a_checkpoint(tiny_checkpoint, tmp_path):
    ck = load_checkpoint(tiny_checkpoint)
    cal = Calibration(offset=1.5)
    save_checkpoint(tmp_path / "c.pt", ck.model, {"calibration": cal.to_dict()})
    assert Calibration.from_metadata(load_checkpoint(tmp_path / "c.pt").metadata).offset == 1.5


@pytest.mark.parametrize("bad", ["missing", "not-cv-json"])
def test_calibrate_cli_refuses_bad_input_in_one_line_and_writes_nothing(tiny_checkpoint, tmp_path, capsys, bad):
    from app.cli import calibrate_cmd

    cv = tmp_path / "cv.json"
    if bad == "not-cv-json":
        cv.write_text('{"folds": []}')
    out = tmp_path / "cal.pt"
    parser = argparse.ArgumentParser()
    calibrate_cmd.add_arguments(parser)
    args = parser.parse_args(["--model", str(tiny_checkpoint), "--cv", str(cv), "--out", str(out)])
    assert calibrate_cmd.run(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "leave-one-embryo-out" in err and "Traceback" not in err
    assert not out.exists()
