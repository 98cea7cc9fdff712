"""Fine-tune dialog (QProcess), model registry dialog, review queue dock, and the window hook."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QProcess, Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.core import finetune as F
from app.core.registry import Registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_finetune import GOOD, HAS_TRAIN, make_store, tiny_settings  # noqa: E402


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path / "folder")


@pytest.fixture
def reg(tmp_path, tiny_checkpoint):
    return Registry(tmp_path / "models", bundled=tiny_checkpoint)


def _dialog(qtbot, store, reg, **kw):
    from app.gui.finetune_dialog import FineTuneDialog

    d = FineTuneDialog(store, reg, settings=tiny_settings(**kw),
                       tolerance=F.Tolerance(max_dice_drop=1.0, max_mae_rise_pts=100.0))
    qtbot.addWidget(d)
    return d


def test_dialog_shows_the_split_by_embryo_and_the_validation_embryo_can_be_picked(qtbot, store, reg):
    d = _dialog(qtbot, store, reg)
    plan = d.session.plan
    keys = sorted({s.key for s in [*plan.train, *plan.val]})
    assert d.split_box.list.count() == len(keys) >= 2  # every embryo, not only validation's
    assert d.split_box.checked() == plan.val_keys
    assert "validation (fixed)" in d.info.text() and d.start_button.isEnabled()
    assert not F.validation_file(store).exists()  # shown, fixed only when a fine-tune starts
    other = next(k for k in keys if k not in plan.val_keys)
    for i in range(d.split_box.list.count()):  # the annotator ticks another embryo instead
        item = d.split_box.list.item(i)
        item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) == other
                           else Qt.CheckState.Unchecked)
    assert d.session.plan.val_keys == [other]
    assert all(s.key != other for s in d.session.plan.train)
    d.start()
    d.cancel()
    assert json.loads(F.validation_file(store).read_text())["embryo_keys"] == [other]


def test_progress_bar_follows_the_trainers_steps(qtbot, store, reg):
    d = _dialog(qtbot, store, reg)
    d._set_state("training", "training…")
    p = QProcess(d)
    p.readyReadStandardError.connect(d._on_stderr)
    d.process = p
    bar = "\\repoch 1/2 [seg] [######..................] 4/16 loss 0.4000 eta 0:00:09   "
    p.start(sys.executable, ["-c", f"import sys; sys.stderr.write('{bar}'); sys.stderr.flush()"])
    qtbot.waitUntil(lambda: d.progress.value() > 0, timeout=20_000)
    assert d.progress.value() == int(d.progress.maximum() * (4 / 16) / 2)
    assert d.progress.format() == "epoch 1/2 · step 4/16"
    p.waitForFinished(5000)
    assert b"epoch 1/2" not in d._stderr_tail  # bar redraws are not error text


def test_the_first_run_note_going_away_moves_no_field(qtbot, store, reg):
    d = _dialog(qtbot, store, reg)
    d.show()
    qtbot.waitExposed(d)
    assert d.session.plan.new_choice
    before = d.epochs.mapTo(d, QPoint(0, 0))
    F.save_validation(store, d.session.plan.val_keys)  # as a first fine-tune does
    d._show_plan()
    QApplication.processEvents()
    assert not d.session.plan.new_choice
    assert d.epochs.mapTo(d, QPoint(0, 0)) == before


@pytest.mark.skipif(not HAS_TRAIN, reason="main.py train/evaluate not present yet")
def test_finetune_runs_in_a_subprocess_and_promotes(qtbot, store, reg):
    d = _dialog(qtbot, store, reg)
    parent = reg.active_version()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(50)
    d.start()
    qtbot.waitUntil(lambda: d.state in ("compared", "failed"), timeout=240000)
    timer.stop()
    assert d.state == "compared", d.verdict.text()
    assert len(ticks) > 20  # the event loop kept running while the subprocesses worked
    assert d.plot.epochs and d.table.item(1, 0).text() != "–"
    assert d.embryo_table.rowCount() >= 1
    assert F.validation_file(store).exists()
    with qtbot.waitSignal(d.model_activated) as sig:
        d.accept_button.click()
    assert reg.active_version() == d.session.candidate_version != parent
    assert Path(sig.args[0]) == reg.active_path()


@pytest.mark.skipif(not HAS_TRAIN, reason="main.py train not present yet")
def test_cancel_ends_the_trainer_and_activates_nothing(qtbot, store, reg):
    d = _dialog(qtbot, store, reg, epochs=50, steps=50)
    d.start()
    qtbot.waitUntil(lambda: d.state == "training" and bool(d.session.events), timeout=120000)
    proc = d.process
    pid = proc.processId()
    d.cancel_button.click()
    qtbot.waitUntil(lambda: proc.state() == QProcess.ProcessState.NotRunning, timeout=15000)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert d.state == "cancelled" and [e.status for e in reg.entries()] == ["bundled"]
    assert not d.accept_button.isEnabled()


def test_worse_candidate_is_not_activated_from_the_dialog(qtbot, store, reg, tiny_config):
    import torch

    from model.checkpoint import save_checkpoint
    from model.network import AttnRegDeepLab

    d = _dialog(qtbot, store, reg)
    d.session.tolerance = F.Tolerance()
    d.session.prepare()
    torch.manual_seed(3)
    save_checkpoint(d.session.candidate_path, AttnRegDeepLab(tiny_config), {})
    rows = [{"key": "E1", "true_pct": 10.0, "mask_pct": 12.0, "true_grade": "1", "mask_grade": "1"}]
    (d.session.run_dir / "eval_active.json").write_text(json.dumps({**GOOD, "images": rows}))
    (d.session.run_dir / "eval_candidate.json").write_text(
        json.dumps({**GOOD, "fraction_mae_pts_mask": 9.0, "images": rows}))
    parent = reg.active_version()
    d._show_comparison(d.session.register_candidate())
    assert "worse" in d.verdict.text() and "fraction MAE rose" in d.verdict.text()
    d.accept_button.click()
    assert reg.active_version() == parent
    assert reg.get(d.session.candidate_version).status == "rejected"
    assert "not activated" in d.verdict.text()


def test_registry_dialog_rollback_and_rejected_activation(qtbot, reg, tmp_path, tiny_config):
    import torch

    from app.gui.model_registry_dialog import ModelRegistryDialog
    from model.checkpoint import save_checkpoint
    from model.network import AttnRegDeepLab

    bundled = reg.active_version()
    torch.manual_seed(5)
    save_checkpoint(tmp_path / "c.pt", AttnRegDeepLab(tiny_config), {})
    c = reg.register(tmp_path / "c.pt", parent=bundled, status="rejected", reason="fragment Dice fell")
    asked = []
    d = ModelRegistryDialog(reg, confirm=lambda t, x: asked.append(x) or True)
    qtbot.addWidget(d)
    assert d.table.rowCount() == 2 and not d.rollback_button.isEnabled()
    d.select_version(c.version)
    with qtbot.waitSignal(d.active_changed):
        d.activate_button.click()
    assert asked and "fragment Dice fell" in asked[0] and reg.active_version() == c.version
    assert d.rollback_button.isEnabled()
    d.rollback_button.click()
    assert reg.active_version() == bundled
    d.select_version(bundled)
    assert not d.delete_button.isEnabled()  # the bundled model stays


def test_review_queue_order_and_panel(qtbot):
    from app.core.review_queue import QueueItem, review_order
    from app.gui.review_queue_panel import ReviewQueuePanel

    class FakeCache:
        meta = {"a": 2.0, "b": 9.0, "c": 5.0}

        def file_sha256(self, p):
            return Path(p).stem

        def get_memory(self, sha, version):
            if sha not in self.meta:
                return None
            return type("P", (), {"uncertainty": self.meta[sha], "grade": "1", "borderline": False,
                                  "disagreement": False})()

        def get(self, sha, version):
            return self.get_memory(sha, version)

        def flush(self):
            pass

    class FakeStore:
        def current_all(self, masks=False):
            return {"c": type("R", (), {"status": "corrected"})()}

    items = review_order([Path(f"/x/{n}.png") for n in "abcd"], FakeCache(), "v1", FakeStore())
    assert [i.path.stem for i in items] == ["b", "a", "c", "d"]  # unreviewed by uncertainty, reviewed, ungraded
    assert not items[-1].graded and items[2].review_status == "corrected"
    panel = ReviewQueuePanel()
    qtbot.addWidget(panel)
    panel.set_items(items)
    assert panel.list.count() == 4 and "±9.0" in panel.list.item(0).text()
    with qtbot.waitSignal(panel.path_selected) as sig:
        panel.list.itemClicked.emit(panel.list.item(0))
    assert sig.args[0] == Path("/x/b.png")
    assert isinstance(items[0], QueueItem)


def test_install_finetuning_on_the_main_window(qtbot, make_window, image_folder, tiny_checkpoint, monkeypatch):
    from app.core import registry as R
    from app.gui.finetuning import install_finetuning

    monkeypatch.setattr(R, "bundled_model_path", lambda: tiny_checkpoint)
    w = make_window()
    ft = install_finetuning(w)
    texts = [a.text() for a in w.model_choice.menu.actions()]
    assert "Fine-tune from corrections…" in texts and "Models…" in texts
    assert w.finetuning is ft and ft.queue_panel.parent() is w
    assert ft.open_finetune() is None  # no folder yet: a message, no dialog
    w.open_folder(image_folder)
    qtbot.waitUntil(lambda: ft.queue_panel.list.count() == 4, timeout=20000)
    target = ft.queue_panel.items[-1].path
    ft.queue_panel.path_selected.emit(target)
    assert w.folder_panel.current_path() == target
    d = ft.open_finetune()  # the folder has no corrections: the dialog says so
    qtbot.addWidget(d)
    assert not d.start_button.isEnabled()
