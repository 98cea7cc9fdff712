"""The training loop: stages, checkpoints, resume, time budget, DDP, progress.

Files in the run folder (only rank 0 writes):
  last.pt, best.pt   checkpoints (model.checkpoint format; best by validation score)
  state.pt           optimizer, epoch, stage, RNG, elapsed time: what --resume needs
  metrics.csv        one row per epoch
Progress goes to stderr as a bar, and with ``progress_json`` as JSON lines
on stdout (schema in docs/training.md).
"""

from __future__ import annotations

import csv
import json
import math
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, RandomSampler
from torch.utils.data.distributed import DistributedSampler

from model.checkpoint import save_checkpoint
from model.device import autocast, resolve_precision, use_channels_last
from model.training import distributed as D
from model.training import schedule as S
from model.training.losses import LossWeights, total_loss
from model.training.samples import SampleSpec, TrainingSet
from model.training.validate import validate

WARMUP_STEPS = 30
MIN_LR_FRACTION = 0.05


@dataclass
class TrainOptions:
    out: Path
    mode: str = "two-stage"
    epochs: int = 20
    steps_per_epoch: int | None = None  # cap per epoch (tests, quick runs); None: one pass
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    time_budget_s: float | None = None
    seed: int = 0
    whole_frame_p: float = 0.25
    workers: int = 1
    freeze_bn: bool = False
    resume: bool = False
    progress_json: bool = False
    progress_bar: bool = True
    weights: LossWeights = field(default_factory=LossWeights)
    precision: str = "auto"  # model.device.PRECISIONS: bf16 autocast where the device has it natively
    metadata: dict = field(default_factory=dict)


class _Stop(Exception):
    pass


def _emit(opts: TrainOptions, info: D.DistInfo, event: dict) -> None:
    if opts.progress_json and info.is_main:
        print(json.dumps(event, allow_nan=False, default=str), flush=True)


def _lr_factor(progress: float, stage_span: tuple[float, float], step: int) -> float:
    lo, hi = stage_span
    t = min(1.0, max(0.0, (progress - lo) / max(hi - lo, 1e-9)))
    cos = MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * t))
    return cos * min(1.0, (step + 1) / WARMUP_STEPS)


def _stage_span(mode: str, stage: S.Stage) -> tuple[float, float]:
    if mode == "end-to-end":
        return 0.0, 1.0
    if mode == "head":
        return {"regress": (0.0, S.HEAD_SPLIT), "inject": (S.HEAD_SPLIT, 1.0)}[stage.name]
    b = S.STAGE_BOUNDS
    return {"segment": (0.0, b[0]), "regress": (b[0], b[1]), "inject": (b[1], 1.0)}[stage.name]


class Trainer:
    def __init__(self, model, train_frames, val_frames, opts: TrainOptions, device: torch.device):
        # OpenCV's thread pool, once started in this process, deadlocks the
        # loader workers forked from it (seen: a worker stuck in a futex
        # after the first validation). One cv2 thread here avoids the pool.
        cv2.setNumThreads(1)
        self.info = D.from_env()
        self.device = D.device_for(self.info, device)
        D.setup(self.info, self.device)
        self.opts = opts
        self.model = model.to(self.device)
        # bf16 autocast + NHWC: measured 2x the fp32 step rate on AVX512-BF16 CPUs with the same
        # validation Dice (bench/train_throughput.py, docs/results.md). Weights and the
        # optimiser stay fp32; only the forward/backward matmuls run in bf16.
        self.precision = resolve_precision(opts.precision, self.device)
        self.channels_last = use_channels_last(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        opts.metadata.setdefault("precision", self.precision)
        self.size = model.config.input_size
        spec = SampleSpec(size=self.size, whole_frame_p=opts.whole_frame_p)
        self.train_set = TrainingSet(train_frames, spec, seed=opts.seed)
        self.val_frames = val_frames
        self.out = Path(opts.out)
        self.epoch, self.step, self.elapsed_before = 0, 0, 0.0
        self.best_score = -math.inf
        self.best_stage = ""
        self.stage: S.Stage | None = None
        self.optimizer = None
        self.wrapped = self.model
        self._t0 = time.monotonic()
        self._pending_opt_state = None

    # -- bookkeeping ---------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self._t0

    def progress(self, epoch_float: float) -> float:
        p = epoch_float / max(self.opts.epochs, 1)
        if self.opts.time_budget_s:
            p = max(p, self.elapsed() / self.opts.time_budget_s)
        return min(p, 1.0)

    def _set_stage(self, stage: S.Stage) -> None:
        if self.stage is not None and stage.name == self.stage.name:
            return
        mults = S.apply_stage(self.model, stage)
        if self.opts.freeze_bn:
            S.freeze_all_bn(self.model)
        groups = self.model.parameter_groups()
        param_groups = [{"params": groups[g], "lr_mult": m, "lr": self.opts.lr * m, "name": g}
                        for g, m in mults.items()]
        self.optimizer = torch.optim.AdamW(param_groups, lr=self.opts.lr, weight_decay=self.opts.weight_decay)
        if self._pending_opt_state is not None:
            self.optimizer.load_state_dict(self._pending_opt_state)
            self._pending_opt_state = None
        self.wrapped = self.model
        if self.info.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.wrapped = DDP(self.model, device_ids=ids)
        self.stage = stage
        self.stage_step = 0

    def _train_mode(self) -> None:
        S.apply_stage(self.model, self.stage)
        if self.opts.freeze_bn:
            S.freeze_all_bn(self.model)

    # -- checkpoints ---------------------------------------------------------------------
    def _meta(self, val: dict) -> dict:
        return {**self.opts.metadata, "mode": self.opts.mode, "epoch": self.epoch, "step": self.step,
                "stage": self.stage.name if self.stage else None, "train_seconds": round(self.elapsed(), 1),
                "val": {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in val.items()}}

    def save(self, val: dict, best: bool = False) -> None:
        if not self.info.is_main:
            return
        meta = self._meta(val)
        save_checkpoint(self.out / "last.pt", self.model, meta)
        if best:
            save_checkpoint(self.out / "best.pt", self.model, meta)
        state = {"epoch": self.epoch, "step": self.step, "elapsed": self.elapsed(),
                 "best_score": self.best_score, "best_stage": self.best_stage, "stage": self.stage.name if self.stage else "",
                 "optimizer": self.optimizer.state_dict() if self.optimizer else {},
                 "torch_rng": torch.get_rng_state()}
        tmp = self.out / "state.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(self.out / "state.pt")

    def try_resume(self) -> bool:
        state_path, last = self.out / "state.pt", self.out / "last.pt"
        if not (state_path.is_file() and last.is_file()):
            return False
        from model.checkpoint import read_checkpoint_payload

        _, _, sd = read_checkpoint_payload(last)
        self.model.load_state_dict(sd)
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        self.epoch, self.step = int(st["epoch"]), int(st["step"])
        self.elapsed_before, self.best_score = float(st["elapsed"]), float(st["best_score"])
        self.best_stage = str(st.get("best_stage", ""))
        torch.set_rng_state(st["torch_rng"])
        self._pending_opt_state = st["optimizer"] or None
        self._resume_stage = st["stage"]
        return True

    # -- the loop ------------------------------------------------------------------------
    def _loader(self) -> DataLoader:
        ds = self.train_set
        ds.set_epoch(self.epoch)
        if self.info.enabled:
            sampler = DistributedSampler(ds, self.info.world_size, self.info.rank, shuffle=True,
                                         seed=self.opts.seed, drop_last=True)
            sampler.set_epoch(self.epoch)
        else:
            g = torch.Generator().manual_seed(self.opts.seed * 100003 + self.epoch)
            sampler = RandomSampler(ds, generator=g)
        # Workers are forked anew each epoch (they must see set_epoch). A
        # batch that takes 10 minutes means a stuck worker: fail loudly.
        return DataLoader(ds, batch_size=self.opts.batch_size, sampler=sampler, drop_last=len(ds) > self.opts.batch_size,
                          num_workers=self.opts.workers, worker_init_fn=_worker_init,
                          persistent_workers=False, timeout=600 if self.opts.workers else 0)

    def run(self) -> dict:
        opts, info = self.opts, self.info
        if info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(opts.seed)
        if opts.resume and self.try_resume():
            _emit(opts, info, {"event": "resumed", "epoch": self.epoch, "step": self.step})
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt) if info.is_main or not info.enabled else None
        val: dict = {}
        try:
            while self.epoch < opts.epochs:
                if self.progress(self.epoch) >= 1.0 and self.epoch > 0:
                    break
                stage = S.stage_for(opts.mode, self.progress(self.epoch), self.model.head is not None,
                                    self.model.config.feature_injection)
                if self.optimizer is None and self._pending_opt_state and getattr(self, "_resume_stage", "") != stage.name:
                    self._pending_opt_state = None  # the stage changed at the resume point
                if self.stage is None or stage.name != self.stage.name:
                    _emit(opts, info, {"event": "stage", "epoch": self.epoch, "stage": stage.name})
                self._set_stage(stage)
                train_loss, parts, stopped = self._epoch()
                self.epoch += 1
                val = validate(self.model, self.val_frames, self.size, self.device,
                                                precision=self.precision) if info.is_main else {}
                best = self._is_best(val.get("score", -train_loss))
                self.save(val, best)
                self._log(train_loss, parts, val)
                if stopped:
                    break
        except KeyboardInterrupt:
            # A usable checkpoint survives Ctrl-C / SIGTERM: the weights as they are now.
            if info.is_main and self.optimizer is not None:
                self.save(val, best=not (self.out / "best.pt").exists())
            _emit(opts, info, {"event": "interrupted", "epoch": self.epoch, "step": self.step})
            raise
        finally:
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)
            if opts.progress_bar and info.is_main:
                sys.stderr.write("\n")
        _emit(opts, info, {"event": "done", "epoch": self.epoch, "best_score": _finite(self.best_score),
                           "out": str(self.out)})
        D.barrier()
        return val

    def _is_best(self, score: float) -> bool:
        """Best among epochs of the mode's final stage; earlier ones only until it is reached.

        In two-stage training the head is untrained before stage 2, so a
        stage-1 epoch with slightly better masks must not become best.pt.
        """
        final = S.stage_for(self.opts.mode, 1.0, self.model.head is not None,
                            self.model.config.feature_injection).name
        in_final = self.stage.name == final
        if in_final and self.best_stage != final:
            self.best_score = -math.inf
        if in_final or self.best_stage != final:
            if score > self.best_score:
                self.best_score, self.best_stage = score, self.stage.name
                return True
        return False

    def _epoch(self) -> tuple[float, dict, bool]:
        opts, info = self.opts, self.info
        loader = self._loader()
        n_steps = len(loader) if opts.steps_per_epoch is None else min(len(loader), opts.steps_per_epoch)
        span = _stage_span(opts.mode, self.stage)
        total, sums, count, stopped, t_start = 0.0, {}, 0, False, time.monotonic()
        self._train_mode()
        for i, batch in enumerate(loader):
            if i >= n_steps:
                break
            batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
            p = self.progress(self.epoch + i / max(n_steps, 1))
            f = _lr_factor(p, span, self.stage_step)
            for g in self.optimizer.param_groups:
                g["lr"] = opts.lr * g["lr_mult"] * f
            x = batch["image"]
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(self.device, self.precision):
                out = self.wrapped(x)
            loss, parts = total_loss(out, batch, opts.weights, self.stage.seg_loss, self.stage.reg_loss)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([q for g in self.optimizer.param_groups for q in g["params"]], 5.0)
            self.optimizer.step()
            self.step += 1
            self.stage_step += 1
            lv = float(loss.detach())
            if not math.isfinite(lv):
                raise FloatingPointError(f"loss became {lv} at step {self.step}")
            total += lv
            count += 1
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            if opts.progress_bar and info.is_main:
                self._bar(i + 1, n_steps, total / count, t_start)
            out_of_time = bool(opts.time_budget_s) and self.elapsed() >= opts.time_budget_s
            if D.broadcast_flag(out_of_time, self.device):
                stopped = True
                break
        D.sync_buffers(self.model)
        mean = D.all_mean(total / max(count, 1), self.device)
        return mean, {k: v / max(count, 1) for k, v in sums.items()}, stopped

    def _eta(self) -> float:
        el = self.elapsed()
        if self.opts.time_budget_s:
            return max(0.0, self.opts.time_budget_s - el)
        frac = max(self.epoch, 1e-9) / self.opts.epochs
        return el / frac - el if self.epoch else float("nan")

    def _bar(self, i: int, n: int, loss: float, t_start: float) -> None:
        per = (time.monotonic() - t_start) / i
        eta = self.opts.time_budget_s - self.elapsed() if self.opts.time_budget_s else per * (n - i)
        w = 24
        done = int(w * i / max(n, 1))
        sys.stderr.write(f"\repoch {self.epoch + 1}/{self.opts.epochs} [{self.stage.name}] "
                         f"[{'#' * done}{'.' * (w - done)}] {i}/{n} loss {loss:.4f} "
                         f"eta {_hms(max(eta, 0))}   ")
        sys.stderr.flush()

    def _log(self, train_loss: float, parts: dict, val: dict) -> None:
        if not self.info.is_main:
            return
        row = {"epoch": self.epoch, "step": self.step, "stage": self.stage.name,
               "elapsed_s": round(self.elapsed(), 1), "lr": self.optimizer.param_groups[0]["lr"],
               "train_loss": round(train_loss, 5), **{f"loss_{k}": round(v, 5) for k, v in parts.items()},
               **{f"val_{k}": (round(v, 5) if isinstance(v, float) else v) for k, v in val.items()}}
        path = self.out / "metrics.csv"
        keys = list(row)
        if path.exists():
            with open(path, newline="") as f:
                header = next(csv.reader(f), [])
            keys = header + [k for k in row if k not in header]
            if keys != header:  # a new column (e.g. the regression loss in stage 2): rewrite
                rows = list(csv.DictReader(open(path, newline="")))
                with open(path, "w", newline="") as f:
                    w = csv.DictWriter(f, keys)
                    w.writeheader()
                    w.writerows(rows)
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, keys)
            if f.tell() == 0:
                w.writeheader()
            w.writerow(row)
        _emit(self.opts, self.info, {"event": "epoch", "epoch": self.epoch, "epochs": self.opts.epochs,
                                     "step": self.step, "stage": self.stage.name, "train_loss": _finite(train_loss),
                                     "val": {k: _finite(v) for k, v in val.items()},
                                     "elapsed_s": round(self.elapsed(), 1), "eta_s": _finite(round(self._eta(), 1))})


def _finite(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _hms(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    np.random.seed(torch.initial_seed() % 2**32)
