"""Fine-tuning: the fixed embryo-wise split, the promotion rule, and the subprocess path end to end."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pytest

from app.core import finetune as F
from app.core.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
HAS_TRAIN = (ROOT / "app" / "cli" / "train_cmd.py").is_file() and (ROOT / "app" / "cli" / "evaluate_cmd.py").is_file()


def make_store(folder: Path, embryos: int = 4, frames: int = 2, grade_only: int = 1) -> Path:
    """A folder's store: ``embryos`` x ``frames`` corrected 64x64 synthetic frames, plus grade-only ones."""
    from app.core.imaging import sha256_file, write_png
    from app.core.store import AnnotationStore, Revision
    from model.synth import generate

    folder.mkdir(parents=True, exist_ok=True)
    with AnnotationStore.for_folder(folder) as st:
        for e in range(embryos):
            for r in range(frames):
                s = generate(100 + 10 * e + r, size=64)
                p = folder / f"D2024.01.02_S0001_I1_WELL{e + 1}_RUN{r + 1}.png"
                write_png(p, s.image)
                st.append(Revision(sha256_file(p), p.name, "corrected", "test", mask=s.mask, model_mask=s.mask),
                          image=s.image)
        for g in range(grade_only):
            s = generate(900 + g, size=64)
            p = folder / f"D2024.01.02_S0001_I1_WELL{embryos + 1 + g}_RUN1.png"
            write_png(p, s.image)
            st.append(Revision(sha256_file(p), p.name, "grade-only", "test", grade="2", scheme="istanbul",
                               fragment_fraction=0.2, grade_reason="mask wrong"), image=s.image)
        return st.path


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path / "folder")


@pytest.fixture
def reg(tmp_path, tiny_checkpoint):
    return Registry(tmp_path / "models", bundled=tiny_checkpoint)


def tiny_settings(**kw) -> F.TrainSettings:
    return F.TrainSettings(**{"epochs": 1, "steps": 2, "batch_size": 2, "threads": 1, "workers": 0,
                              "device": "cpu", "tta": False, "min_steps_per_epoch": 2, **kw})


# -- split -------------------------------------------------------------------------------------
def test_split_is_by_embryo_persisted_and_fixed(store):
    samples = F.read_samples(store)
    plan = F.plan_split(samples, store)
    assert plan.new_choice and plan.val_keys
    assert not {s.key for s in plan.train} & {s.key for s in plan.val}
    assert all(s.key in plan.val_keys for s in plan.val)
    saved = json.loads(F.validation_file(store).read_text())
    assert saved["embryo_keys"] == plan.val_keys
    # More embryos annotated later: the validation set stays; the new embryos train.
    make_store(store.parent.parent, embryos=7, frames=1, grade_only=0)
    again = F.plan_split(F.read_samples(store), store, seed=123)
    assert not again.new_choice and again.val_keys == plan.val_keys
    assert len(again.train) > len(plan.train)


def test_split_override_and_grade_only_stays_in_training(store):
    samples = F.read_samples(store)
    key = samples[0].key
    plan = F.plan_split(samples, store, val_keys=[key])
    assert plan.val_keys == [key] and all(s.key == key for s in plan.val)
    assert not F.validation_file(store).exists() or json.loads(F.validation_file(store).read_text())
    assert any(not s.has_mask for s in plan.train)
    assert all(s.has_mask for s in plan.val)  # validation embryos are chosen among masked ones


def test_snapshot_copies_masks_and_grade_only(store, tmp_path):
    from app.core.store import AnnotationStore

    samples = F.read_samples(store)
    n = F.snapshot(store, [s.sha256 for s in samples], tmp_path / "snap.h5")
    assert n == len(samples)
    with AnnotationStore(tmp_path / "snap.h5", readonly=True) as snap:
        revs = snap.current_all()
        assert {r.status for r in revs.values()} == {"corrected", "grade-only"}
        assert {r.path for r in revs.values()} == {s.path for s in samples}


# -- commands and progress ---------------------------------------------------------------------
def test_train_command_line(tmp_path):
    s = F.TrainSettings(epochs=3, steps=5, synthetic=40, threads=2)
    cmd = F.train_command(tmp_path, tmp_path / "init.pt", s)
    assert cmd[:3] == [sys.executable, str(ROOT / "main.py"), "train"]
    joined = " ".join(cmd)
    assert f"--data {tmp_path / 'train.h5'}" in joined and "--data synth:40:0" in joined
    assert f"--val-data {tmp_path / 'val.h5'}" in joined and "--progress-json" in cmd
    assert cmd[cmd.index("--init") + 1] == str(tmp_path / "init.pt") and cmd[cmd.index("--steps") + 1] == "5"
    # 6 images, batch 4, at least 16 steps per epoch: the snapshot is repeated 11 times per epoch
    small = F.train_command(tmp_path, tmp_path / "init.pt", F.TrainSettings(batch_size=4), n_train=6)
    assert small[small.index("--data") + 1] == f"{tmp_path / 'train.h5'}*11"
    big = F.train_command(tmp_path, tmp_path / "init.pt", F.TrainSettings(batch_size=4), n_train=500)
    assert big[big.index("--data") + 1] == str(tmp_path / "train.h5")


def test_parse_progress():
    assert F.parse_progress('{"event": "epoch", "epoch": 1, "train_loss": 0.5}\n')["epoch"] == 1
    for junk in ("", "warning: something", "{broken", '{"no_event": 1}', b"\xff\xfe"):
        assert F.parse_progress(junk) is None


# -- the promotion rule ------------------------------------------------------------------------
GOOD = {"n_images": 5, "fragment_dice": 0.60, "fraction_mae_pts_mask": 4.0, "grade_kappa_quadratic": 0.7}


def test_compare_tolerance():
    assert not F.compare(GOOD, {**GOOD, "fragment_dice": 0.585, "fraction_mae_pts_mask": 4.9}, F.Tolerance()).worse
    worse = F.compare(GOOD, {**GOOD, "fragment_dice": 0.55}, F.Tolerance())
    assert worse.worse and "fragment Dice fell by 0.050" in worse.reasons[0]
    assert F.compare(GOOD, {**GOOD, "fraction_mae_pts_mask": 5.5}, F.Tolerance()).worse
    assert F.compare(GOOD, {**GOOD, "grade_kappa_quadratic": 0.3}, F.Tolerance(max_kappa_drop=0.1)).worse
    assert not F.compare(GOOD, {**GOOD, "fragment_dice": 0.55}, F.Tolerance(max_dice_drop=0.1)).worse
    empty = F.compare({**GOOD, "n_images": 0}, {**GOOD, "n_images": 0}, F.Tolerance())
    assert empty.worse and "cannot be checked" in empty.reasons[0]


def _fake_trained_session(store, reg, tmp_path, tiny_config, cand_metrics) -> F.FineTuneSession:
    """A session whose training and evaluation outputs are written by hand (no subprocess)."""
    import torch

    from model.checkpoint import save_checkpoint
    from model.network import AttnRegDeepLab

    s = F.FineTuneSession(store, tmp_path / "run", reg, tiny_settings())
    s.prepare()
    torch.manual_seed(1)
    save_checkpoint(s.candidate_path, AttnRegDeepLab(tiny_config), {"init_version": s.parent_version})
    rows = [{"key": "E1", "true_pct": 10.0, "mask_pct": 12.0, "true_grade": "1", "mask_grade": "1"}]
    (s.run_dir / "eval_active.json").write_text(json.dumps({**GOOD, "images": rows}))
    (s.run_dir / "eval_candidate.json").write_text(json.dumps({**cand_metrics, "images": rows}))
    return s


def test_worse_candidate_is_registered_but_not_activated(store, reg, tmp_path, tiny_config):
    s = _fake_trained_session(store, reg, tmp_path, tiny_config, {**GOOD, "fragment_dice": 0.5})
    parent = reg.active_version()
    cmp_ = s.register_candidate()
    assert cmp_.worse
    activated, msg = s.decide(accept=True)
    assert not activated and "worse than the active model" in msg
    e = reg.get(s.candidate_version)
    assert e.status == "rejected" and "fragment Dice fell" in e.reason and e.parent == parent
    assert e.trained_on["samples"] == [x.sha256 for x in s.plan.train]
    assert e.parent_metrics["per_embryo"]["E1"]["mae_pts"] == pytest.approx(2.0)
    assert reg.active_version() == parent


def test_declined_candidate_is_not_activated(store, reg, tmp_path, tiny_config):
    s = _fake_trained_session(store, reg, tmp_path, tiny_config, dict(GOOD))
    parent = reg.active_version()
    s.register_candidate()
    activated, msg = s.decide(accept=False)
    assert not activated and reg.active_version() == parent
    assert reg.get(s.candidate_version).reason == "not accepted by the user"


def test_accepted_candidate_is_activated_and_rolled_back(store, reg, tmp_path, tiny_config):
    s = _fake_trained_session(store, reg, tmp_path, tiny_config, {**GOOD, "fragment_dice": 0.65})
    parent = reg.active_version()
    s.register_candidate()
    assert s.decide(accept=True)[0]
    assert reg.active_version() == s.candidate_version and reg.get(s.candidate_version).status == "accepted"
    assert reg.rollback().version == parent


# -- through the subprocess --------------------------------------------------------------------
@pytest.mark.skipif(not HAS_TRAIN, reason="main.py train/evaluate not present yet")
def test_finetune_end_to_end_through_subprocess(store, reg, tmp_path):
    parent = reg.active_version()
    s = F.FineTuneSession(store, tmp_path / "run", reg, tiny_settings())
    events = []
    cmp_ = F.run_blocking(s, events.append)
    assert [e["event"] for e in events][-1] == "done" and any(e["event"] == "epoch" for e in events)
    assert cmp_.active["n_images"] == cmp_.candidate["n_images"] == len([x for x in s.plan.val if x.has_mask]) > 0
    e = reg.get(s.candidate_version)
    assert e.status == "candidate" and e.parent == parent and e.metrics["n_images"] > 0
    assert reg.active_version() == parent  # nothing activated without a decision


@pytest.mark.skipif(not HAS_TRAIN, reason="main.py train not present yet")
def test_cancel_ends_the_subprocess_and_activates_nothing(store, reg, tmp_path):
    parent = reg.active_version()
    s = F.FineTuneSession(store, tmp_path / "run", reg, tiny_settings(epochs=50, steps=50))
    stop, procs = threading.Event(), []

    def on_event(ev):
        if ev["event"] == "stage":  # training has started
            stop.set()

    with pytest.raises(F.Cancelled):
        F.run_blocking(s, on_event, stop.is_set, procs.append)
    assert procs and procs[0].poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(procs[0].pid, 0)
    assert [e.status for e in reg.entries()] == ["bundled"] and reg.active_version() == parent


# -- review queue on a real result cache ---------------------------------------------------------
def test_review_queue_reads_the_disk_cache(tmp_path):
    import numpy as np

    from app.core.imaging import write_png
    from app.core.result_cache import ResultCache
    from app.core.review_queue import review_order
    from model.predictor import Prediction

    folder = tmp_path / "imgs"
    folder.mkdir()
    paths = []
    for i in range(4):
        p = folder / f"E{i}_RUN1.png"
        write_png(p, np.full((16, 16), 40 * i, np.uint8))
        paths.append(p)
    cache = ResultCache(folder, memory_items=0)  # force the disk path
    def put(p, u, unusual=False):
        cache.put(cache.file_sha256(p), Prediction(
            class_mask=np.zeros((16, 16), np.uint8), probabilities=np.zeros((16, 16, 3), np.float32),
            attention={}, fraction_mask=0.1, fraction_regression=0.1, grade="1", scheme="istanbul",
            uncertainty=u, borderline=False, disagreement=False, model_version="m1", embryo_box=(0, 0, 16, 16),
            unusual=unusual))

    for p, u in zip(paths[:3], (3.0, 11.0, 7.0)):
        put(p, u)
    order = review_order(paths, ResultCache(folder, memory_items=0), "m1")
    assert [i.path.name for i in order] == ["E1_RUN1.png", "E2_RUN1.png", "E0_RUN1.png", "E3_RUN1.png"]
    assert not order[-1].graded
    assert not any(i.graded for i in review_order(paths, cache, "another-model"))
    # An image unlike the training data goes first, however sure the model says it is.
    put(paths[0], 3.0, unusual=True)
    order = review_order(paths, ResultCache(folder, memory_items=0), "m1")
    assert [i.path.name for i in order][:2] == ["E0_RUN1.png", "E1_RUN1.png"] and order[0].unusual


def test_one_embryo_cannot_be_fine_tuned_without_a_check(tmp_path, reg):
    store = make_store(tmp_path / "one", embryos=1, frames=2, grade_only=0)
    s = F.FineTuneSession(store, tmp_path / "run", reg, tiny_settings())
    assert s.make_plan(persist=False).val == []
    with pytest.raises(ValueError, match="validation embryo"):
        s.prepare()
