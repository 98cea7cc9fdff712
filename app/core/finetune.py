"""Fine-tuning from a folder's corrections, without silently making the model worse. Qt-free.

The path, shared by the GUI (QProcess), the bench and the tests (subprocess):

1. ``plan_split``: train / validation by embryo (``app.core.timelapse.embryo_key``).
   The validation embryos are chosen once and kept in
   ``<project dir>/finetune/validation.json``, so every fine-tune of a folder
   is judged on the same embryos; embryos seen later go to training.
2. ``FineTuneSession.prepare``: the current revisions of both sides are copied
   into two small stores in the run folder (``train.h5``, ``val.h5``). The
   trainer reads a frozen snapshot, so edits made while it runs cannot leak
   into validation, and grade-only labels keep their Range loss.
3. ``train_command``: ``main.py train --progress-json`` in a subprocess
   (the frozen app relaunched with ``train`` when ``sys.frozen``).
4. ``evaluate_commands``: ``main.py evaluate --json`` of the active model and
   of the candidate on the same ``val.h5``.
5. ``compare`` + ``decide``: the candidate is registered; it becomes active
   only when the user accepts it and it is not worse than the active model
   beyond ``Tolerance``; otherwise it stays ``rejected`` with the reason.

Steps 1-2 live in ``finetune_split.py``, step 5's rule in ``finetune_judge.py``.
Design: docs/fine-tuning.md, docs/adr/0005-finetune-subprocess.md.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.core.finetune_judge import (
    KEY_METRICS,
    Comparison,
    Tolerance,
    compare,
    key_metrics,
    per_embryo,
)
from app.core.finetune_split import (
    VALIDATION_FILE,
    SampleRef,
    SplitPlan,
    choose_validation,
    plan_split,
    read_samples,
    save_validation,
    snapshot,
    validation_file,
)
from app.core.registry import Registry, RegistryError
from app.core.resources import app_command
from app.core.store_api import describe
from app.core.timelapse import embryo_key

# Re-exported: the GUI, the bench and the tests use the whole path through this module.
__all__ = [
    "KEY_METRICS", "VALIDATION_FILE", "Cancelled", "Comparison", "FineTuneSession", "SampleRef",
    "SplitPlan", "Tolerance", "TrainSettings", "app_command", "choose_validation", "compare", "save_validation",
    "evaluate_command", "key_metrics", "parse_progress", "per_embryo", "plan_split", "read_samples",
    "run_blocking", "run_process", "snapshot", "stop_process", "train_command", "validation_file",
]

TERMINATE_GRACE_S = 5.0


# -- command lines ---------------------------------------------------------------------------
@dataclass
class TrainSettings:
    epochs: int = 10
    steps: int | None = None  # per epoch; None: one pass over the training frames
    batch_size: int = 4
    lr: float = 1e-4  # a tenth of training from scratch: small steps away from a good model
    mode: str = "end-to-end"  # masks and grades train together, so grade-only labels count from step one
    synthetic: int = 0  # synth:N frames mixed in against forgetting (0: none)
    time_budget_min: float | None = None
    threads: int | None = None
    workers: int = 0
    device: str = "auto"
    input_size: int | None = None
    seed: int = 0
    tta: bool = True  # evaluation as the app grades (mirror averaging)
    # A folder's first corrections are a handful of images; one pass over them is one or two steps,
    # too few to move the model (bench: 64-160 steps did). Small sets are repeated (SPEC*K, each copy
    # augmented anew) to reach this many steps per epoch.
    min_steps_per_epoch: int = 16


def train_command(run_dir: Path, init: Path, s: TrainSettings, n_train: int | None = None) -> list[str]:
    spec = str(run_dir / "train.h5")
    if n_train and n_train < s.min_steps_per_epoch * s.batch_size:
        spec += f"*{math.ceil(s.min_steps_per_epoch * s.batch_size / n_train)}"
    cmd = app_command("train") + ["--data", spec]
    if s.synthetic:
        cmd += ["--data", f"synth:{int(s.synthetic)}:{s.seed}"]
    cmd += ["--val-data", str(run_dir / "val.h5"), "--out", str(run_dir / "train"), "--init", str(init),
            "--mode", s.mode, "--epochs", str(s.epochs), "--batch-size", str(s.batch_size), "--lr", str(s.lr),
            "--seed", str(s.seed), "--workers", str(s.workers), "--device", s.device,
            "--progress-json"]  # the stderr bar too: the dialog shows its steps (finetune_progress.py)
    for flag, value in (("--steps", s.steps), ("--time-budget", s.time_budget_min), ("--threads", s.threads),
                        ("--input-size", s.input_size)):
        if value:
            cmd += [flag, str(value)]
    return cmd


def evaluate_command(model: Path, val_store: Path, json_out: Path, s: TrainSettings) -> list[str]:
    cmd = app_command("evaluate") + ["--data", str(val_store), "--model", str(model), "--json", str(json_out),
                                     "--quiet", "--device", s.device]
    if s.threads:
        cmd += ["--threads", str(s.threads)]
    if not s.tta:
        cmd.append("--no-tta")
    return cmd


def parse_progress(line: str | bytes) -> dict | None:
    """One ``--progress-json`` line as a dict; None for anything else (warnings, blank lines)."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    return ev if isinstance(ev, dict) and "event" in ev else None


# -- one fine-tune ---------------------------------------------------------------------------
@dataclass
class FineTuneSession:
    """State of one fine-tune; the GUI drives it with QProcess, ``run_blocking`` with subprocess."""

    store_path: Path
    run_dir: Path
    registry: Registry
    settings: TrainSettings = field(default_factory=TrainSettings)
    tolerance: Tolerance = field(default_factory=Tolerance)
    val_keys: list[str] | None = None  # override of the persisted validation embryos
    key_fn: Callable[[str], str] = embryo_key
    plan: SplitPlan | None = None
    parent_version: str | None = None
    parent_path: Path | None = None
    events: list[dict] = field(default_factory=list)
    comparison: Comparison | None = None
    candidate_version: str | None = None
    samples: list[SampleRef] | None = None  # as last read; plans shown again reuse them

    def __post_init__(self) -> None:
        # Fine-tuning from the lab server: its promotion is the lab's decision, logged there.
        from app.core.store_api import is_server_url

        if self.registry.recorder is None and is_server_url(str(self.store_path)):
            from app.core.server_models import recorder

            self.registry.recorder = recorder(str(self.store_path))

    def read(self) -> list[SampleRef]:
        """The store's labelled samples (metadata only; from a lab server a round trip, so the
        GUI calls this from a worker and then shows plans from memory)."""
        self.samples = read_samples(self.store_path, self.key_fn)
        return self.samples

    def make_plan(self, persist: bool = True) -> SplitPlan:
        """The split (fast: metadata only). ``persist=False`` shows it without fixing a new choice,
        from the samples already read when there are; ``persist=True`` (Start) reads them afresh."""
        samples = self.samples if self.samples is not None and not persist else self.read()
        if not samples:
            raise ValueError(f"{self.store_path}: the store holds no corrections yet")
        self.plan = plan_split(samples, self.store_path, val_keys=self.val_keys, seed=self.settings.seed,
                               persist=persist)
        return self.plan

    def prepare(self) -> SplitPlan:
        """Split and snapshot (seconds for hundreds of images: run it off the GUI thread)."""
        self.make_plan(persist=True)
        if not self.plan.train:
            raise ValueError("every annotated embryo is in the fixed validation set: annotate other embryos")
        if not any(s.has_mask for s in self.plan.val):
            raise ValueError("no validation embryo with masks: annotate masks of at least two embryos, "
                             "one is kept aside to check the new model")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        snapshot(self.store_path, [s.sha256 for s in self.plan.train], self.run_dir / "train.h5")
        snapshot(self.store_path, [s.sha256 for s in self.plan.val], self.run_dir / "val.h5")
        self.parent_version = self.registry.active_version()
        self.parent_path = self.registry.active_path()
        if not self.parent_path.is_file():
            raise ValueError(f"no model to start from: {self.parent_path} does not exist")
        (self.run_dir / "plan.json").write_text(json.dumps({
            "store": describe(self.store_path), "parent": self.parent_version, "val_keys": self.plan.val_keys,
            "train": [asdict(s) for s in self.plan.train], "val": [asdict(s) for s in self.plan.val],
            "settings": asdict(self.settings)}, indent=1))
        return self.plan

    def train_command(self) -> list[str]:
        return train_command(self.run_dir, self.parent_path, self.settings, len(self.plan.train))

    def on_line(self, line: str | bytes) -> dict | None:
        ev = parse_progress(line)
        if ev is not None:
            self.events.append(ev)
        return ev

    @property
    def candidate_path(self) -> Path:
        # last.pt, not best.pt: best.pt is the maximum over epochs of a score on these same
        # validation embryos, and a maximum of noisy scores flatters the candidate in the check.
        return self.run_dir / "train" / "last.pt"

    def evaluate_commands(self) -> list[tuple[str, list[str]]]:
        val = self.run_dir / "val.h5"
        return [(name, evaluate_command(model, val, self.run_dir / f"eval_{name}.json", self.settings))
                for name, model in (("active", self.parent_path), ("candidate", self.candidate_path))]

    def load_evaluation(self, name: str) -> dict:
        return json.loads((self.run_dir / f"eval_{name}.json").read_text("utf-8"))

    def register_candidate(self) -> Comparison:
        """Compare on the shared validation set and register the candidate (status: candidate)."""
        active, cand = self.load_evaluation("active"), self.load_evaluation("candidate")
        self.comparison = compare(active, cand, self.tolerance)
        trained_on = {"store": describe(self.store_path), "samples": [s.sha256 for s in self.plan.train],
                      "validation_keys": self.plan.val_keys, "validation_samples": [s.sha256 for s in self.plan.val],
                      "synthetic": self.settings.synthetic, "run_dir": str(self.run_dir)}
        metrics = {**self.comparison.candidate, "per_embryo": per_embryo(cand)}
        parent_metrics = {**self.comparison.active, "per_embryo": per_embryo(active)}
        e = self.registry.register(self.candidate_path, parent=self.parent_version, trained_on=trained_on,
                                   metrics=metrics, parent_metrics=parent_metrics)
        self.candidate_version = e.version
        return self.comparison

    def decide(self, accept: bool) -> tuple[bool, str]:
        """(activated, message). The rule: accepted by the user AND not worse beyond the tolerance."""
        if self.candidate_version is None or self.comparison is None:
            raise RegistryError("no candidate registered")
        if not accept:
            reason = "not accepted by the user"
        elif self.comparison.worse:
            reason = "worse than the active model: " + "; ".join(self.comparison.reasons)
        else:
            # Promotion: one lab decision on the server (refused there unless a lab admin).
            with self.registry.recorded([(self.candidate_version, "accepted", "fine-tune promotion", {
                    "parent": self.parent_version, "store": describe(self.store_path),
                    "candidate": self.comparison.candidate, "active": self.comparison.active})]):
                self.registry.set_status(self.candidate_version, "accepted")
                self.registry.activate(self.candidate_version)
            return True, f"model {self.candidate_version} is now active (parent {self.parent_version})"
        self.registry.set_status(self.candidate_version, "rejected", reason)
        return False, f"model {self.candidate_version} was kept but not activated: {reason}"


def _popen(cmd: list[str], stdout, stderr) -> subprocess.Popen:
    kw = {"start_new_session": True} if os.name != "nt" else {
        "creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
    return subprocess.Popen(cmd, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, **kw)


def stop_process(proc: subprocess.Popen, grace_s: float = TERMINATE_GRACE_S) -> int:
    """Terminate (the trainer saves and exits on SIGTERM), kill after ``grace_s``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Cancelled(Exception):
    pass


def run_process(cmd: list[str], log: Path, on_line: Callable[[str], object] | None = None,
                should_stop: Callable[[], bool] | None = None,
                on_start: Callable[[subprocess.Popen], object] | None = None) -> int:
    """Run one step; stdout lines to ``on_line``, stderr to ``log``; ``should_stop`` cancels."""
    import threading

    with open(log, "ab") as err:
        proc = _popen(cmd, subprocess.PIPE, err)
        if on_start is not None:
            on_start(proc)
        stopper = None
        if should_stop is not None:
            def watch():
                while proc.poll() is None:
                    if should_stop():
                        stop_process(proc)
                        return
                    time.sleep(0.1)
            stopper = threading.Thread(target=watch, daemon=True)
            stopper.start()
        for raw in proc.stdout:
            if on_line is not None:
                on_line(raw.decode("utf-8", "replace"))
        rc = proc.wait()
        if stopper is not None:
            stopper.join()
    if should_stop is not None and should_stop():
        raise Cancelled("cancelled")
    return rc


def run_blocking(session: FineTuneSession, on_event: Callable[[dict], object] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 on_start: Callable[[subprocess.Popen], object] | None = None) -> Comparison:
    """The whole path without Qt (tests, bench): prepare, train, evaluate, register."""
    if session.plan is None:
        session.prepare()
    log = session.run_dir / "subprocess.log"

    def line(s):
        ev = session.on_line(s)
        if ev is not None and on_event is not None:
            on_event(ev)

    rc = run_process(session.train_command(), log, line, should_stop, on_start)
    if rc != 0 or not session.candidate_path.is_file():
        raise RuntimeError(f"training failed (exit {rc}): {_tail(log)}")
    for name, cmd in session.evaluate_commands():
        rc = run_process(cmd, log, None, should_stop, on_start)
        if rc != 0:
            raise RuntimeError(f"evaluation of the {name} model failed (exit {rc}): {_tail(log)}")
    return session.register_candidate()


def _tail(path: Path, n: int = 600) -> str:
    try:
        return path.read_text("utf-8", "replace")[-n:].strip()
    except OSError:
        return ""

