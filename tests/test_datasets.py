"""Dataset readers: folder, labelme, store, synthetic, repeat, embryo-wise split."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from app.core import datasets as ds
from model.training.samples import SampleSpec, TrainingSet


def _folder(tmp_path, names):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for k, name in enumerate(names):
        img = np.full((48, 64), 100 + k, np.uint8)
        m = np.zeros((48, 64), np.uint8)
        m[10:30, 10:40] = 1
        m[12:16, 12:16] = 2
        cv2.imwrite(str(tmp_path / "images" / f"{name}.png"), img)
        cv2.imwrite(str(tmp_path / "masks" / f"{name}.png"), m)
    return tmp_path


def test_folder_reader_and_split_keeps_embryos_together(tmp_path):
    names = [f"D2024.01.01_S1_I1_WELL{w}_RUN{r}" for w in range(5) for r in range(3)]
    root = _folder(tmp_path, names)
    frames = ds.open_data(str(root))
    assert isinstance(frames, ds.FolderFrames) and len(frames) == 15
    s = frames.get(0)
    assert s.image.shape == (48, 64) and set(np.unique(s.mask)) == {0, 1, 2}
    assert s.target_fraction() == pytest.approx(16 / 600)
    train, val = ds.split_by_embryo(frames, 0.3, seed=1)
    assert len(train) + len(val) == 15 and len(val) >= 3
    tk = {train.key(i) for i in range(len(train))}
    vk = {val.key(i) for i in range(len(val))}
    assert tk.isdisjoint(vk)  # no embryo on both sides
    t0, v0 = ds.split_by_embryo(frames, 0.0)
    assert len(t0) == 15 and len(v0) == 0


def test_repeat_and_concat(tmp_path):
    root = _folder(tmp_path, ["a", "b"])
    rep = ds.open_data(f"{root}*3")
    assert len(rep) == 6 and rep.get(5).source.endswith("b.png")
    both = ds.Concat([rep, ds.open_data("synth:2:4")])
    assert len(both) == 8 and both.key(7).startswith("synth-")


def test_synthetic_frames_change_with_epoch_unless_fixed():
    fresh = ds.open_data("synth:2:3")
    a = fresh.seed_of(0)
    fresh.set_epoch(1)
    assert fresh.seed_of(0) == a + 2
    fixed = ds.SyntheticFrames(2, 3, fresh=False)
    fixed.set_epoch(5)
    assert fixed.seed_of(1) == fixed.base + 3_000_000 + 1
    assert not (12345 <= a < 12645)  # never the fixed test set's seeds


def test_synthetic_sample_matches_network_geometry():
    frames = ds.SyntheticFrames(1, 0, size=200)
    tset = TrainingSet(frames, SampleSpec(size=64), seed=0)
    item = tset[0]
    assert item["image"].shape == (1, 64, 64) and item["mask"].shape == (64, 64)
    assert bool(item["has_mask"]) and 0 <= float(item["fraction"]) <= 0.6


def _manifest_embryos(root) -> dict[str, str]:
    import csv

    with open(root / "manifest.csv", newline="") as f:
        return {r["name"]: r["embryo"] for r in csv.DictReader(f)}


def test_labelme_reader(real_data):
    frames = ds.open_data(str(real_data / "labelme"))
    n = len(list((real_data / "labelme").glob("*.json")))
    assert isinstance(frames, ds.LabelmeFrames) and len(frames) == n > 0
    s = frames.get(0)
    ref = cv2.imread(str(real_data / "masks" / (frames.items[0].stem + ".png")), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(s.mask, ref)
    # Frames of one embryo share a key; the manifest says which embryo each frame is.
    embryo_of = _manifest_embryos(real_data)
    keys = {frames.key(i) for i in range(n)}
    assert len(keys) == len({embryo_of[p.stem] for p in frames.items})


def test_store_reader_with_grade_only(tmp_path):
    from app.core.store import AnnotationStore
    from app.core.store_format import Revision

    img = np.full((32, 32), 90, np.uint8)
    m = np.zeros((32, 32), np.uint8)
    m[8:24, 8:24] = 1
    sha_a, sha_b = hashlib.sha256(b"a").hexdigest(), hashlib.sha256(b"b").hexdigest()
    with AnnotationStore.for_folder(tmp_path) as s:
        s.append(Revision(sha_a, "D2024_S1_WELL01_RUN1.png", "corrected", "ana", mask=m, model_mask=m), image=img)
        s.append(Revision(sha_b, "D2024_S1_WELL02_RUN1.png", "grade-only", "ana", grade="3",
                          scheme="istanbul", grade_reason="image poor"), image=img)
    frames = ds.open_data(str(tmp_path / ".embryograde" / "annotations.h5"))
    got = {frames.get(i).source.split("#")[1]: frames.get(i) for i in range(len(frames))}
    a, b = got[sha_a[:12]], got[sha_b[:12]]
    assert a.mask is not None and a.grade is None
    assert b.mask is None and b.grade == "3" and b.interval() == (0.25, 1.0)
    item = TrainingSet(ds.Subset(frames, [list(got).index(sha_b[:12])]), SampleSpec(size=32))[0]
    assert not bool(item["has_mask"]) and np.isnan(float(item["fraction"]))


def test_bad_specs():
    with pytest.raises(ds.DataError):
        ds.open_data("synth:x")
    with pytest.raises(ds.DataError):
        ds.open_data("/nonexistent/folder")
