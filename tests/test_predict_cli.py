"""The `predict` command's contract, run as a user would: `python main.py predict ...`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.core.imaging import read_image, write_png
from model.checkpoint import save_checkpoint
from model.config import named_config
from model.network import AttnRegDeepLab

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"image", "fragment_pct_mask", "fragment_pct_regression", "grade", "uncertainty",
        "borderline", "model_version", "scheme", "disagreement"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, AttnRegDeepLab(named_config("attnregdeeplab", width=0.125, input_size=64)))
    return path


def predict(*args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "main.py", "predict", *map(str, args), "--threads", "1"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=300)


def test_json_and_masks_contract(tmp_path, checkpoint):
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a.png", tmp_path / "é b.png"
    write_png(a, (rng.random((96, 128)) * 255).astype(np.uint8))  # not square: masks keep the size
    write_png(b, (rng.random((128, 128, 3)) * 255).astype(np.uint8))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"garbage")
    out, masks = tmp_path / "out.json", tmp_path / "masks"

    r = predict(a, broken, b, "--model", checkpoint, "--device", "cpu", "--json", out,
                "--masks", masks, "--scheme", "eqc")
    assert r.returncode == 1, r.stderr
    assert "For research use only" in r.stdout
    assert "a.png" in r.stdout and "é b.png" in r.stdout
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.png" in errors[0]

    data = json.loads(out.read_text("utf-8"))
    assert [Path(d["image"]).name for d in data] == ["a.png", "é b.png"]
    for d in data:
        assert KEYS <= set(d)
        assert 0.0 <= d["fragment_pct_mask"] <= 100.0
        assert d["fragment_pct_regression"] is None or 0.0 <= d["fragment_pct_regression"] <= 100.0
        assert d["scheme"] == "eqc" and d["grade"] in {"0", "1", "2", "3", "4"}
        assert isinstance(d["borderline"], bool) and d["uncertainty"] >= 0
        assert len(d["model_version"]) == 12
    for name, shape in (("a.png", (96, 128)), ("é b.png", (128, 128))):
        m = read_image(masks / name)
        assert m.shape == shape and m.dtype == np.uint8 and set(np.unique(m)) <= {0, 1, 2}
    assert not (masks / "broken.png").exists()


def test_unusable_models(tmp_path):
    img = tmp_path / "a.png"
    write_png(img, np.full((64, 64), 128, np.uint8))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x02 definitely not torch")
    r = predict(img, "--model", corrupt)
    assert r.returncode == 2
    assert "no usable model" in r.stderr and "corrupt.pt" in r.stderr
    assert "Traceback" not in r.stderr

    r = predict(img, "--model", tmp_path / "missing.pt")
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
