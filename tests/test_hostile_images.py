"""Issue 13: hostile image files get one clear line each, never a traceback; frames without one
embryo get no grade; unreadable files are rows of the report."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from app.core.embryo_presence import NO_EMBRYO, SEVERAL, annotate, presence_of
from app.core.imaging import ImageReadError, read_image, write_png
from app.core.report import make_row, read_report, summarize
from model.checkpoint import save_checkpoint
from model.config import named_config
from model.network import AttnRegDeepLab
from model.predictor import Predictor
from tests.gui.conftest import embryo_like

ROOT = Path(__file__).resolve().parents[1]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _huge_png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 999))
            + _chunk(b"IEND", b""))


def _huge_tiff() -> bytes:
    entries = [(256, 4, 1, 200_000), (257, 4, 1, 200_000), (258, 3, 1, 8), (273, 4, 1, 8)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0\0\0\0"


def _encoded(ext: str, img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def _cmyk_tiff() -> bytes:
    data = bytearray(_encoded(".tif", np.full((32, 32, 4), 100, np.uint8)))
    # PhotometricInterpretation (tag 262) RGB -> 5 (separated, CMYK)
    n = struct.unpack("<H", data[struct.unpack("<I", data[4:8])[0]:][:2])[0]
    off = struct.unpack("<I", data[4:8])[0]
    for k in range(n):
        e = off + 2 + 12 * k
        if struct.unpack("<H", data[e:e + 2])[0] == 262:
            data[e + 8:e + 10] = struct.pack("<H", 5)
    return bytes(data)


def _multipage_tiff(tmp_path) -> bytes:
    p = tmp_path / "multi.tif"
    assert cv2.imwritemulti(str(p), [embryo_like(1, 64), embryo_like(2, 64)])
    return p.read_bytes()


def _float_tiff(tmp_path) -> bytes:
    p = tmp_path / "float.tif"
    assert cv2.imwrite(str(p), embryo_like(3, 64).astype(np.float32) / 255.0)
    return p.read_bytes()


def _jpeg_sof(w: int, h: int) -> bytes:
    return b"\xff\xd8" + b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, h, w, 1) + b"\x01\x11\x00" + b"\xff\xd9"


def hostile_files(tmp_path) -> dict[str, bytes]:
    good_png = _encoded(".png", embryo_like(0, 64))
    return {
        "truncated.png": good_png[: len(good_png) // 2],
        "garbage.png": np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        "huge.png": _huge_png(),
        "huge.tif": _huge_tiff(),
        "huge.jpg": _jpeg_sof(60_000, 60_000),
        "zero.png": b"",
        "jpeg-named.png": _encoded(".jpg", embryo_like(4, 64)),
        "png-named.tif": good_png,
        "one-pixel.png": _encoded(".png", np.zeros((1, 1), np.uint8)),
        "float.tif": _float_tiff(tmp_path),
        "cmyk.tif": _cmyk_tiff(),
        "multipage.tif": _multipage_tiff(tmp_path),
        "header-only.png": _huge_png()[:20],
    }


def _check(path: Path) -> str:
    """'ok' or the error line; fails the test on anything but a clean result or ImageReadError."""
    try:
        img = read_image(path)
    except ImageReadError as exc:
        msg = str(exc)
        assert "\n" not in msg and path.name in msg and len(msg) < 400, msg
        return msg
    assert img.dtype in (np.uint8, np.uint16) and img.ndim in (2, 3) and min(img.shape[:2]) >= 16
    return "ok"


def test_each_hostile_file_gives_one_clear_line(tmp_path):
    out = {}
    for name, data in hostile_files(tmp_path).items():
        (tmp_path / name).write_bytes(data)
        out[name] = _check(tmp_path / name)
    assert "100,000x100,000" in out["huge.png"] and "200,000x200,000" in out["huge.tif"]
    assert "60,000x60,000" in out["huge.jpg"]
    assert "empty" in out["zero.png"] and "too small" in out["one-pixel.png"]
    for name in ("jpeg-named.png", "png-named.tif", "float.tif", "multipage.tif"):
        assert out[name] == "ok", (name, out[name])


def test_random_damage_never_escapes_as_another_exception(tmp_path):
    rng = np.random.default_rng(13)
    seeds = [_encoded(".png", embryo_like(5, 64)), _encoded(".jpg", embryo_like(6, 64)),
             _encoded(".tif", embryo_like(7, 64)), _encoded(".bmp", embryo_like(8, 64))]
    for i in range(120):
        data = bytearray(seeds[i % len(seeds)])
        for _ in range(int(rng.integers(1, 8))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        if i % 3 == 0:
            data = data[: int(rng.integers(1, len(data)))]
        p = tmp_path / f"fuzz{i}{['.png', '.jpg', '.tif', '.bmp'][i % 4]}"
        p.write_bytes(bytes(data))
        _check(p)


@pytest.fixture(scope="module")
def tiny_predictor(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, AttnRegDeepLab(named_config("attnregdeeplab", width=0.125, input_size=64)))
    return Predictor.from_checkpoint(path, device="cpu", threads=1, tta=False)


@pytest.mark.parametrize("name", ["black", "white", "noise"])
def test_no_embryo_no_grade(tiny_predictor, name):
    img = {"black": np.zeros((128, 128), np.uint8), "white": np.full((128, 128), 255, np.uint8),
           "noise": np.random.default_rng(1).integers(0, 256, (128, 128)).astype(np.uint8)}[name]
    pred = tiny_predictor.predict(img)
    annotate(img, pred)
    assert presence_of(pred) == NO_EMBRYO
    row = make_row(f"{name}.png", "0" * 64, pred)
    assert row["status"] == "no embryo" and row["final_grade"] is None and row["grade"] is None
    assert summarize([row])["per_final_grade"] == {}  # not counted as a grade


def test_one_embryo_is_graded_and_two_are_named(tiny_predictor):
    one = embryo_like(0, 200)
    pred = tiny_predictor.predict(one)
    annotate(one, pred)
    assert presence_of(pred) is None and make_row("e.png", "0" * 64, pred)["final_grade"]
    two = np.concatenate([embryo_like(0, 200), embryo_like(1, 200)], axis=1)
    pred2 = tiny_predictor.predict(two)
    annotate(two, pred2)
    assert presence_of(pred2) == SEVERAL
    assert make_row("w.png", "0" * 64, pred2)["status"] == "several embryos"


def test_grade_command_goes_on_past_hostile_files_and_lists_them(tmp_path, tiny_predictor):
    folder = tmp_path / "batch"
    folder.mkdir()
    write_png(folder / "a-good.png", embryo_like(0, 128))
    (folder / "b-huge.png").write_bytes(_huge_png())
    (folder / "c-garbage.png").write_bytes(b"\x00garbage" * 50)
    write_png(folder / "d-good.png", embryo_like(1, 128))
    ckpt = tmp_path / "tiny.pt"
    torch.manual_seed(0)
    save_checkpoint(ckpt, AttnRegDeepLab(named_config("attnregdeeplab", width=0.125, input_size=64)))
    out = tmp_path / "r.csv"
    r = subprocess.run([sys.executable, "main.py", "grade", str(folder), "--out", str(out), "--model",
                        str(ckpt), "--threads", "1", "--device", "cpu"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    _, rows = read_report(out)
    status = {row["image"]: row["status"] for row in rows}
    assert status == {"a-good.png": "model", "d-good.png": "model", "b-huge.png": "unreadable",
                      "c-garbage.png": "unreadable"}
    huge = next(row for row in rows if row["image"] == "b-huge.png")
    assert "100,000x100,000" in huge["warnings"] and huge["final_grade"] == ""
