"""Model → Fine-tune from corrections…: the dialog (``finetuning.install_finetuning`` adds it to the window).

Training and both evaluations run as ``main.py`` subprocesses (QProcess), so
the window stays responsive and a crash of torch cannot take it down; the
orchestration (split, command lines, promotion rule, registry) is the
Qt-free ``app.core.finetune``. See docs/fine-tuning.md.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.core import finetune as F
from app.core.finetune_progress import split_bar
from app.core.finetune_split import finetune_dir
from app.core.registry import Registry
from app.core.store_api import describe, is_server_url
from app.gui.finetune_split_box import SplitBox
from app.gui.loss_plot import LossPlot

GRACE_MS = int(F.TERMINATE_GRACE_S * 1000)
PROGRESS_MAX = 1000  # per mille: a step of a long epoch still moves the bar
ROWS = (("images", "n_images", "{:.0f}"), ("fragment Dice", "fragment_dice", "{:.3f}"),
        ("fraction MAE (points)", "fraction_mae_pts_mask", "{:.2f}"),
        ("quadratic κ", "grade_kappa_quadratic", "{:.3f}"), ("grade accuracy", "grade_accuracy", "{:.3f}"),
        ("regression MAE (points)", "fraction_mae_pts_regression", "{:.2f}"))


def _fmt(v, spec: str) -> str:
    return "–" if v is None else spec.format(v)


class FineTuneDialog(QDialog):
    """States: idle → preparing → training → evaluating → decided | cancelled | failed."""

    model_activated = Signal(object)  # Path of the newly active checkpoint
    state_changed = Signal(str)

    def __init__(self, store_path: Path | str, registry: Registry | None = None, run_root: Path | None = None,
                 settings: F.TrainSettings | None = None, tolerance: F.Tolerance | None = None, parent=None,
                 read_in_worker: bool = False):
        super().__init__(parent)
        self.setWindowTitle("Fine-tune from corrections")
        self.resize(960, 820)
        self.registry = registry or Registry()
        # A lab server's URL stays a string (Path would fold its '//'); its runs go per user.
        store_path = store_path if is_server_url(str(store_path)) else Path(store_path)
        run_root = Path(run_root) if run_root else finetune_dir(store_path) / "runs"
        run_dir = run_root / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        if settings is None:  # leave a core to the window, which keeps grading while this trains
            import os

            settings = F.TrainSettings(threads=max(1, (os.cpu_count() or 2) - 1))
        self.session = F.FineTuneSession(store_path, run_dir, self.registry, settings, tolerance or F.Tolerance())
        self.state = "idle"
        self.process: QProcess | None = None
        self._steps: list[tuple[str, list[str]]] = []
        self._stdout_buf = b""
        self._stderr_tail = b""
        self._worker = None
        self._picked = False  # the annotator ticked the validation embryos
        self._build()
        if read_in_worker:  # the window's store may be a lab server: no round trip on this thread
            self._read_samples()
        else:
            self._show_plan()

    # -- building --------------------------------------------------------------------------
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        # Room for every line the plan can say: a note that goes away must not move the fields.
        self.info.setMinimumHeight(6 * self.info.fontMetrics().lineSpacing())
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.info)

        top = QHBoxLayout()
        self.split_box = SplitBox(self)
        self.split_box.changed.connect(self._pick_validation)
        top.addWidget(self.split_box, 1)
        form_box = QGroupBox("Settings", self)
        form = QFormLayout(form_box)
        s, t = self.session.settings, self.session.tolerance
        self.epochs = QSpinBox(form_box, minimum=1, maximum=500, value=s.epochs)
        self.synthetic = QSpinBox(form_box, minimum=0, maximum=100000, value=s.synthetic, singleStep=50)
        self.synthetic.setToolTip("synthetic frames mixed in per epoch, against forgetting")
        self.dice_tol = QDoubleSpinBox(form_box, minimum=0, maximum=1, decimals=3, singleStep=0.005,
                                       value=t.max_dice_drop)
        self.mae_tol = QDoubleSpinBox(form_box, minimum=0, maximum=50, decimals=2, singleStep=0.25,
                                      value=t.max_mae_rise_pts)
        form.addRow("epochs", self.epochs)
        form.addRow("synthetic frames", self.synthetic)
        form.addRow("allowed fragment Dice drop", self.dice_tol)
        form.addRow("allowed MAE rise (points)", self.mae_tol)
        top.addWidget(form_box, 1)
        lay.addLayout(top)

        prog = QHBoxLayout()
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        self.status = QLabel("ready", self)
        prog.addWidget(self.progress, 1)
        prog.addWidget(self.status, 2)
        lay.addLayout(prog)
        self.plot = LossPlot(self)
        lay.addWidget(self.plot, 3)

        res = QHBoxLayout()
        self.table = QTableWidget(len(ROWS), 3, self)
        self.table.setHorizontalHeaderLabels(["active", "candidate", "change"])
        self.table.setVerticalHeaderLabels([r[0] for r in ROWS])
        self.embryo_table = QTableWidget(0, 4, self)
        self.embryo_table.setHorizontalHeaderLabels(["embryo", "images", "MAE active", "MAE candidate"])
        for t in (self.table, self.embryo_table):
            t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            t.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            t.setMinimumHeight(215)
        self.embryo_table.verticalHeader().hide()
        res.addWidget(self.table, 3)
        res.addWidget(self.embryo_table, 2)
        lay.addLayout(res, 2)
        self.verdict = QLabel(self)
        self.verdict.setWordWrap(True)
        self.verdict.setMinimumHeight(2 * self.verdict.fontMetrics().lineSpacing())
        lay.addWidget(self.verdict)

        buttons = QDialogButtonBox(self)
        self.start_button = QPushButton("Start", self)
        self.cancel_button = QPushButton("Cancel training", self)
        self.accept_button = QPushButton("Use the candidate", self)
        self.reject_button = QPushButton("Keep the active model", self)
        self.close_button = QPushButton("Close", self)
        for b in (self.start_button, self.cancel_button, self.accept_button, self.reject_button, self.close_button):
            buttons.addButton(b, QDialogButtonBox.ButtonRole.ActionRole)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.accept_button.clicked.connect(lambda: self.decide(True))
        self.reject_button.clicked.connect(lambda: self.decide(False))
        self.close_button.clicked.connect(self.close)
        lay.addWidget(buttons)
        self._set_state("idle")

    def _show_plan(self) -> None:
        active = self.registry.active_version()
        try:
            plan = self.session.make_plan(persist=False)
        except (OSError, ValueError) as exc:
            self.info.setText(f"Cannot fine-tune: {exc}")
            self.start_button.setEnabled(False)
            return
        self.info.setText(f"Store: {self.session.store_path}<br>Starting model: <b>{active or 'none'}</b><br>"
                          f"{plan.summary()}" + (f"<br>{plan.note}" if plan.note else "")
                          + ("<br><i>First fine-tune of this folder: the validation embryos ticked below "
                             "will be kept for every later fine-tune.</i>" if plan.new_choice else
                             "<br><i>Validation embryos as kept for this folder; tick others to change "
                             "them.</i>"))
        self.split_box.set_plan(plan)
        ok = bool(plan.val) and bool(plan.train)
        self.start_button.setEnabled(ok and self.state == "idle")
        self.verdict.setText("")
        if not ok:
            self.start_button.setEnabled(False)
            self.verdict.setText("Annotate at least two embryos (with masks) to fine-tune: one is kept "
                                 "for validation.")

    def _read_samples(self) -> None:
        from app.gui.workers import GeneratorWorker, start

        self.info.setText(f"Store: {describe(self.session.store_path)}<br>reading the corrections…")
        self.start_button.setEnabled(False)
        w = GeneratorWorker(self.session.read)
        w.signals.returned.connect(lambda _samples: self._show_plan())
        w.signals.errored.connect(lambda exc: self.info.setText(f"Cannot fine-tune: {exc}"))
        self._worker = w
        start(w)

    def _pick_validation(self, keys: list[str]) -> None:
        """The annotator ticked other validation embryos: re-plan now, keep them from Start on."""
        self.session.val_keys = keys
        self._picked = True
        self._show_plan()

    def _set_state(self, state: str, text: str | None = None) -> None:
        self.state = state
        running = state in ("preparing", "training", "evaluating")
        self.start_button.setEnabled(state == "idle")
        self.cancel_button.setEnabled(running)
        self.accept_button.setEnabled(state == "compared")
        self.reject_button.setEnabled(state == "compared")
        for w in (self.epochs, self.synthetic, self.dice_tol, self.mae_tol, self.split_box):
            w.setEnabled(state == "idle")
        self.progress.setRange(0, 0 if state in ("preparing", "evaluating") else PROGRESS_MAX)
        if text is not None:
            self.status.setText(text)
        self.state_changed.emit(state)

    # -- running -----------------------------------------------------------------------------
    def start(self) -> None:
        from app.gui.workers import GeneratorWorker, start

        s = self.session.settings
        s.epochs, s.synthetic = self.epochs.value(), self.synthetic.value()
        self.session.tolerance.max_dice_drop = self.dice_tol.value()
        self.session.tolerance.max_mae_rise_pts = self.mae_tol.value()
        if self._picked:
            F.save_validation(self.session.store_path, self.session.val_keys or [])
        self.plot.clear()
        self._set_state("preparing", "copying the corrections into a training snapshot…")
        w = GeneratorWorker(self.session.prepare)
        w.signals.returned.connect(self._on_prepared)
        w.signals.errored.connect(lambda exc: self._fail(f"preparing failed: {exc}"))
        self._worker = w
        start(w)

    def _on_prepared(self, plan) -> None:
        if self.state != "preparing":
            return  # cancelled meanwhile
        self._steps = [("train", self.session.train_command()), *self.session.evaluate_commands()]
        self._run_next()

    def _run_next(self) -> None:
        name, cmd = self._steps.pop(0)
        self._current = name
        if name == "train":
            self._set_state("training", "starting the trainer…")
        else:
            self._set_state("evaluating", f"evaluating the {name} model on the validation embryos…")
        p = QProcess(self)
        p.setWorkingDirectory(str(self.session.run_dir))
        p.readyReadStandardOutput.connect(self._on_stdout)
        p.readyReadStandardError.connect(self._on_stderr)
        p.finished.connect(self._on_finished)
        p.errorOccurred.connect(self._on_error)
        self._stdout_buf, self._stderr_tail = b"", b""
        self.process = p
        p.start(cmd[0], cmd[1:])

    def _on_stdout(self) -> None:
        p = self.sender() or self.process
        self._stdout_buf += bytes(p.readAllStandardOutput())
        *lines, self._stdout_buf = self._stdout_buf.split(b"\n")
        for line in lines:
            ev = self.session.on_line(line)
            if ev is not None:
                self._on_event(ev)

    def _on_stderr(self) -> None:
        p = self.sender() or self.process
        step, rest = split_bar(bytes(p.readAllStandardError()))
        if step is not None and self.state == "training":
            self.progress.setValue(int(PROGRESS_MAX * step.fraction))
            self.progress.setFormat(step.describe())
        self._stderr_tail = (self._stderr_tail + rest)[-4000:]

    def _on_event(self, ev: dict) -> None:
        kind = ev["event"]
        if kind == "stage":
            self.status.setText(f"training ({ev.get('stage')})…")
        elif kind == "epoch":
            n = max(int(ev.get("epochs") or 1), 1)
            self.progress.setValue(int(PROGRESS_MAX * ev.get("epoch", 0) / n))
            self.progress.setFormat(f"epoch {ev.get('epoch')}/{n} done")
            eta = ev.get("eta_s")
            val = ev.get("val") or {}
            d = val.get("fragment_dice")
            self.status.setText(f"epoch {ev.get('epoch')}/{n}, loss {_fmt(ev.get('train_loss'), '{:.4f}')}, "
                                f"validation Dice {_fmt(d, '{:.3f}')}, ETA "
                                f"{'–' if eta is None else time.strftime('%H:%M:%S', time.gmtime(eta))}")
            self.plot.add_epoch(ev)

    def _on_error(self, err) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            self._fail(f"could not start {self.process.program()}: {self.process.errorString()}")

    def _on_finished(self, code: int, status) -> None:
        if self.sender() is not self.process or self.state in ("cancelled", "failed"):
            return
        self._on_stdout()
        if code != 0 or status != QProcess.ExitStatus.NormalExit:
            tail = self._stderr_tail.decode("utf-8", "replace").strip().splitlines()[-3:]
            self._fail(f"{self._current} step failed (exit {code}): {' '.join(tail)}")
            return
        if self._current == "train" and not self.session.candidate_path.is_file():
            self._fail("training ended without a checkpoint")
            return
        if self._steps:
            self._run_next()
            return
        try:
            cmp_ = self.session.register_candidate()
        except Exception as exc:  # a damaged evaluation file, a full disk: tell, keep the GUI alive
            self._fail(f"could not compare the models: {exc}")
            return
        self._show_comparison(cmp_)

    def _show_comparison(self, cmp_: F.Comparison) -> None:
        deltas = cmp_.deltas()
        for r, (_, key, spec) in enumerate(ROWS):
            d = deltas.get(key)
            for c, text in enumerate((_fmt(cmp_.active.get(key), spec), _fmt(cmp_.candidate.get(key), spec),
                                      "" if d is None else ("+" if d >= 0 else "") + spec.format(d))):
                self.table.setItem(r, c, QTableWidgetItem(text))
        pa = F.per_embryo(self.session.load_evaluation("active"))
        pc = F.per_embryo(self.session.load_evaluation("candidate"))
        self.embryo_table.setRowCount(len(pa))
        for r, (k, a) in enumerate(pa.items()):
            c = pc.get(k, {})
            for col, text in enumerate((k, str(a["n"]), _fmt(a["mae_pts"], "{:.2f}"),
                                        _fmt(c.get("mae_pts"), "{:.2f}"))):
                self.embryo_table.setItem(r, col, QTableWidgetItem(text))
        self.progress.setValue(PROGRESS_MAX)
        self.progress.setFormat("%p%")
        v = self.session.candidate_version
        if cmp_.worse:
            self.verdict.setText(f"<b style='color:#d93025'>Candidate {v} is worse than the active model</b> "
                                 f"and will not be activated: {'; '.join(cmp_.reasons)}. It is kept in the registry.")
        else:
            self.verdict.setText(f"<b style='color:#188038'>Candidate {v} is not worse</b> than the active model "
                                 "within the tolerance. Use it?")
        self._set_state("compared", "evaluation done")

    def decide(self, accept: bool) -> None:
        if self.registry.recorder is not None:  # the lab server logs (or refuses) it: a round trip
            from app.gui.workers import GeneratorWorker, start

            self.accept_button.setEnabled(False)
            self.reject_button.setEnabled(False)
            self.status.setText("recording the decision on the lab server…")
            w = GeneratorWorker(self.session.decide, accept)
            w.signals.returned.connect(self._decided)
            w.signals.errored.connect(lambda exc: (self.verdict.setText(f"<b style='color:#d93025'>⚠ {exc}</b>"),
                                                   self._set_state("compared", "not decided")))
            self._worker = w
            start(w)
            return
        self._decided(self.session.decide(accept))

    def _decided(self, result: tuple[bool, str]) -> None:
        activated, msg = result
        self.verdict.setText(msg)
        self._set_state("decided", "activated" if activated else "not activated")
        if activated:
            self.model_activated.emit(self.registry.active_path())

    def cancel(self) -> None:
        """Terminate the subprocess (the trainer saves and exits), kill it after a grace period."""
        if self.state == "preparing" and self._worker is not None:
            self._worker.cancel()
        p = self.process
        self._set_state("cancelled", "cancelled: nothing was registered or activated")
        if p is not None and p.state() != QProcess.ProcessState.NotRunning:
            p.terminate()
            # p as the context object: Qt drops the timer if the process object
            # is deleted first, instead of calling into a dead C++ object.
            QTimer.singleShot(GRACE_MS, p, lambda: p.state() != QProcess.ProcessState.NotRunning and p.kill())

    def _fail(self, msg: str) -> None:
        self._set_state("failed", "failed")
        self.verdict.setText(f"<b style='color:#d93025'>{msg}</b>")

    def is_running(self) -> bool:
        return self.state in ("preparing", "training", "evaluating")

    def closeEvent(self, ev):  # noqa: N802
        if self.is_running():
            self.cancel()
        p = self.process
        if p is not None and p.state() != QProcess.ProcessState.NotRunning and not p.waitForFinished(GRACE_MS):
            p.kill()
            p.waitForFinished(2000)
        super().closeEvent(ev)
