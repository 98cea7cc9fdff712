"""The Qt-free result cache: round trip, misses on changed model or bytes, LRU, hash index."""

from __future__ import annotations

import os

import numpy as np
import pytest

from app.core.imaging import write_png
from app.core.result_cache import ResultCache


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    from model.predictor import Predictor

    return Predictor.from_checkpoint(tiny_checkpoint, device="cpu", threads=1)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(3):
        write_png(d / f"e{i}.png", (rng.random((48, 40)) * 255).astype(np.uint8))
    return d


def test_round_trip_memory_and_disk(folder, predictor):
    img = (np.random.default_rng(1).random((48, 40)) * 255).astype(np.uint8)
    pred = predictor.predict(img)
    cache = ResultCache(folder)
    sha = cache.file_sha256(folder / "e0.png")
    assert cache.get(sha, pred.model_version) is None
    cache.put(sha, pred)
    files = list((cache.root / pred.model_version).rglob("*.npz"))
    assert len(files) == 1 and not list(cache.root.rglob("*.tmp"))

    for c in (cache, ResultCache(folder)):  # memory, then a fresh object reading disk
        got = c.get(sha, pred.model_version)
        assert got is not None
        np.testing.assert_array_equal(got.class_mask, pred.class_mask)
        assert got.class_mask.dtype == np.uint8
        np.testing.assert_allclose(got.probabilities, pred.probabilities, atol=1 / 255)
        for k, a in pred.attention.items():
            np.testing.assert_allclose(got.attention[k], a, atol=2e-3)
        assert got.fraction_mask == pred.fraction_mask
        assert got.grade == pred.grade and got.uncertainty == pred.uncertainty
        assert got.warnings == pred.warnings and tuple(got.embryo_box) == tuple(pred.embryo_box)


def test_regrade_on_get(folder, predictor):
    pred = predictor.predict(np.full((40, 40), 100, np.uint8))
    cache = ResultCache(folder)
    cache.put("ab" * 32, pred)
    got = cache.get("ab" * 32, pred.model_version, scheme="eqc")
    assert got.scheme == "eqc"
    assert got.grade == pred.regrade("eqc").grade


def test_changed_model_or_bytes_miss(folder, predictor):
    pred = predictor.predict(np.full((40, 40), 100, np.uint8))
    cache = ResultCache(folder)
    path = folder / "e1.png"
    sha = cache.file_sha256(path)
    cache.put(sha, pred)
    assert cache.get(sha, "another-model") is None
    assert ResultCache(folder).get(sha, "another-model") is None
    # new bytes, same name
    write_png(path, np.zeros((48, 40), np.uint8))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    sha2 = cache.file_sha256(path)
    assert sha2 != sha
    assert cache.get(sha2, pred.model_version) is None


def test_memory_is_bounded(folder, predictor):
    pred = predictor.predict(np.full((40, 40), 100, np.uint8))
    cache = ResultCache(folder, memory_items=2)
    for i in range(5):
        cache.put(f"{i:064x}", pred)
    assert len(cache._memory) == 2
    assert cache.get_memory(f"{0:064x}", pred.model_version) is None
    assert cache.get(f"{0:064x}", pred.model_version) is not None  # from disk


def test_hash_index_avoids_rehashing(folder, monkeypatch):
    cache = ResultCache(folder)
    shas = [cache.file_sha256(p) for p in sorted(folder.glob("*.png"))]
    cache.flush()
    import app.core.result_cache as rc

    def boom(path):
        raise AssertionError("re-hashed an unchanged file")

    monkeypatch.setattr(rc, "sha256_file", boom)
    again = ResultCache(folder)
    assert [again.file_sha256(p) for p in sorted(folder.glob("*.png"))] == shas


def test_corrupt_cache_file_is_a_miss(folder, predictor):
    pred = predictor.predict(np.full((40, 40), 100, np.uint8))
    cache = ResultCache(folder, memory_items=0)
    cache.put("cd" * 32, pred)
    f = next(cache.root.rglob("*.npz"))
    f.write_bytes(b"garbage")
    assert cache.get("cd" * 32, pred.model_version) is None
