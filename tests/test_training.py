"""Training loop: stages, files, JSON progress, resume, interruption (tiny configs, a few steps)."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from app.core.datasets import SyntheticFrames
from model.checkpoint import load_checkpoint
from model.config import named_config
from model.network import AttnRegDeepLab
from model.training import schedule as S
from model.training.trainer import Trainer, TrainOptions


def _tiny(name="attnregdeeplab"):
    torch.manual_seed(0)
    return AttnRegDeepLab(named_config(name, width=0.125, input_size=64))


def _opts(tmp_path, **kw):
    base = dict(out=tmp_path / "run", epochs=3, steps_per_epoch=2, batch_size=2, workers=0,
                progress_bar=False, seed=0)
    base.update(kw)
    return TrainOptions(**base)


def _frames(n=4, seed=0):
    return SyntheticFrames(n, seed, size=160)


def test_two_stage_freezing_plan():
    m = _tiny()
    groups = m.parameter_groups()
    assert S.stage_for("two-stage", 0.0).name == "segment"
    assert S.stage_for("two-stage", 0.7).name == "regress"
    assert S.stage_for("two-stage", 0.9).name == "inject"
    assert S.stage_for("two-stage", 0.9, has_head=False).name == "segment"
    assert S.stage_for("two-stage", 0.9, has_injection=False).name == "regress"
    S.apply_stage(m, S.SEGMENT)
    assert not m.injection_enabled and not any(p.requires_grad for p in groups["head"])
    assert all(p.requires_grad for p in groups["backbone"])
    S.apply_stage(m, S.REGRESS)
    assert all(p.requires_grad for p in groups["head"])
    assert not any(p.requires_grad for g in ("backbone", "aspp", "decoder", "gates", "classifier")
                   for p in groups[g])
    bns = [x for x in m.backbone.modules() if isinstance(x, torch.nn.BatchNorm2d)]
    assert bns and not any(b.training for b in bns) and m.head.training  # frozen BN keeps its statistics
    mults = S.apply_stage(m, S.INJECT)
    assert m.injection_enabled and mults["injection"] == S.SMALL_LR and mults["head"] == 1.0
    assert not any(p.requires_grad for p in groups["backbone"])


def test_frozen_backbone_does_not_change_in_stage_two(tmp_path):
    m = _tiny()
    opts = _opts(tmp_path, epochs=5)
    tr = Trainer(m, _frames(), None, opts, torch.device("cpu"))
    tr.epoch = 3  # progress 0.6: stage "regress"
    tr._set_stage(S.stage_for("two-stage", tr.progress(3)))
    before = {k: v.clone() for k, v in m.backbone.state_dict().items()}
    head_before = [p.clone() for p in m.head.parameters()]
    tr._epoch()
    after = m.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN statistics
    assert any(not torch.equal(a, b) for a, b in zip(head_before, m.head.parameters()))


def test_run_writes_checkpoints_metrics_and_json(tmp_path, capsys):
    # one loader worker: forked again each epoch after validation ran in the parent (a deadlock once)
    opts = _opts(tmp_path, progress_json=True, mode="end-to-end", workers=1)
    Trainer(_tiny(), _frames(), _frames(2, 9), opts, torch.device("cpu")).run()
    out = tmp_path / "run"
    for name in ("best.pt", "last.pt", "state.pt", "metrics.csv"):
        assert (out / name).is_file()
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    epochs = [e for e in events if e["event"] == "epoch"]
    assert len(epochs) == 3 and {"train_loss", "val", "eta_s", "stage"} <= set(epochs[0])
    assert "fragment_dice" in epochs[0]["val"] and events[-1]["event"] == "done"
    ck = load_checkpoint(out / "last.pt")
    assert ck.metadata["epoch"] == 3 and ck.config.input_size == 64


def test_resume_continues_where_it_stopped(tmp_path):
    Trainer(_tiny(), _frames(), None, _opts(tmp_path, epochs=2), torch.device("cpu")).run()
    tr = Trainer(_tiny(), _frames(), None, _opts(tmp_path, epochs=3, resume=True), torch.device("cpu"))
    tr.run()
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3] and tr.step == 6


def test_interrupt_leaves_a_usable_checkpoint(tmp_path, monkeypatch):
    tr = Trainer(_tiny(), _frames(), None, _opts(tmp_path, epochs=3), torch.device("cpu"))
    real = tr._epoch
    calls = []

    def boom():
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real()

    monkeypatch.setattr(tr, "_epoch", boom)
    with pytest.raises(KeyboardInterrupt):
        tr.run()
    assert load_checkpoint(tmp_path / "run" / "last.pt").metadata["epoch"] == 1


def test_train_command_end_to_end(tmp_path, capsys):
    from main import main

    out = tmp_path / "cli"
    rc = main(["train", "--data", "synth:2", "--out", str(out), "--config", "gates", "--width", "0.125",
               "--input-size", "64", "--epochs", "1", "--batch-size", "2", "--workers", "0",
               "--val-synthetic", "1", "--threads", "1", "--progress-json", "--no-bar"])
    assert rc == 0
    assert load_checkpoint(out / "best.pt").config.name == "gates"
    # fine-tuning from it, one embryo-wise split of a folder is not needed: synthetic only
    rc = main(["train", "--init", str(out / "best.pt"), "--data", "synth:2:1", "--out", str(tmp_path / "ft"),
               "--epochs", "1", "--batch-size", "2", "--workers", "0", "--val-synthetic", "0", "--no-bar"])
    assert rc == 0 and (tmp_path / "ft" / "last.pt").is_file()
    assert main(["train", "--data", "/nonexistent", "--out", str(tmp_path / "x")]) == 2


def test_best_is_chosen_in_the_final_stage(tmp_path):
    tr = Trainer(_tiny(), _frames(), None, _opts(tmp_path), torch.device("cpu"))
    tr.stage = S.SEGMENT
    assert tr._is_best(0.5) and not tr._is_best(0.4)
    tr.stage = S.REGRESS
    assert tr._is_best(0.6)
    tr.stage = S.INJECT  # the final stage: its first epoch wins whatever came before
    assert tr._is_best(0.1) and not tr._is_best(0.05) and tr._is_best(0.2)
    tr.stage = S.SEGMENT
    assert not tr._is_best(0.9)


def test_head_mode_refits_only_the_regression_path(tmp_path):
    from app.cli.train_cmd import MODES
    from main import main
    from model.checkpoint import save_checkpoint

    assert MODES == S.MODES  # the CLI's copy of the list stays in step
    assert S.stage_for("head", 0.2).name == "regress"
    assert S.stage_for("head", 0.7).name == "inject"
    assert S.stage_for("head", 0.7, has_injection=False).name == "regress"
    with pytest.raises(ValueError):
        S.stage_for("head", 0.2, has_head=False)

    m = _tiny()
    with torch.no_grad():  # a latent that the injection conv really uses
        m.inject[0][0].weight[:, -m.config.latent_dim:].normal_()
    save_checkpoint(tmp_path / "init.pt", m)
    rc = main(["train", "--init", str(tmp_path / "init.pt"), "--reset-head", "--mode", "head",
               "--data", "synth:2:3", "--out", str(tmp_path / "head"), "--epochs", "2", "--batch-size", "2",
               "--workers", "0", "--val-synthetic", "0", "--threads", "1", "--no-bar"])
    assert rc == 0
    assert main(["train", "--reset-head", "--data", "synth:2", "--out", str(tmp_path / "no-init")]) == 2
    after = load_checkpoint(tmp_path / "head" / "last.pt").model
    before = m.state_dict()
    got = after.state_dict()
    for k in before:
        if k.startswith(("backbone.", "aspp.", "skip8.", "skip4.", "fuse8.", "fuse4.", "gate8.", "gate4.")):
            assert torch.equal(before[k], got[k]), k  # frozen in both stages
    assert any(not torch.equal(before[k], got[k]) for k in before if k.startswith("head."))


def test_reset_head_keeps_the_mask_until_injection_is_trained():
    m = _tiny().eval()
    with torch.no_grad():
        m.inject[0][0].weight[:, -m.config.latent_dim:].normal_()
    x = torch.randn(2, 1, 64, 64)
    m.injection_enabled = False
    with torch.no_grad():
        plain = m(x).logits
        m.injection_enabled = True
        injected = m(x).logits
        m.reset_regression_head()
        reset = m(x).logits
    assert not torch.allclose(plain, injected)
    assert torch.allclose(plain, reset, atol=1e-5)
