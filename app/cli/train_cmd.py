"""`main.py train`: train or fine-tune a model (see docs/training.md).

Runs alone or under ``torchrun --nproc_per_node=N main.py train ...``
(DistributedDataParallel; only rank 0 writes). With --progress-json the
progress is JSON lines on stdout (the GUI's fine-tuning parses them).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from model.config import NAMED_CONFIGS

# model.training.schedule.MODES, spelled out so that --help needs no torch import.
MODES = ("two-stage", "end-to-end", "head")



def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", action="append", required=True, metavar="SPEC",
                   help="images/+masks/ folder, labelme folder, .h5 store or synth:N[:SEED] (repeatable)")
    p.add_argument("--val-data", action="append", default=[], metavar="SPEC",
                   help="validation data (default: an embryo-wise split of --data, plus a fixed "
                        "synthetic set when training on synthetic data)")
    p.add_argument("--out", required=True, type=Path, help="run folder (best.pt, last.pt, metrics.csv)")
    p.add_argument("--config", default="attnregdeeplab", choices=sorted(NAMED_CONFIGS))
    p.add_argument("--mode", default="two-stage", choices=MODES)
    p.add_argument("--init", type=Path, help="start from this checkpoint (fine-tuning); its configuration wins")
    p.add_argument("--reset-head", action="store_true",
                   help="with --init: a fresh regression head and injection back to the identity "
                        "(refit the regression path with --mode head)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--steps", type=int, help="at most this many steps per epoch")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--input-size", type=int, help="network input side (multiple of 32)")
    p.add_argument("--depth", type=int, choices=(18, 34, 50))
    p.add_argument("--width", type=float)
    p.add_argument("--time-budget", type=float, metavar="MINUTES", help="stop after this much training time")
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--val-synthetic", type=int, default=48, metavar="N",
                   help="fixed synthetic validation frames when a synth: spec is trained on (0: none)")
    p.add_argument("--whole-frame-p", type=float, default=0.25, help="share of whole-frame samples")
    p.add_argument("--consistency", type=float, default=0.0, help="weight of the mask/regression consistency loss")
    p.add_argument("--fragment-weight", type=float, default=3.0,
                   help="cross-entropy weight of the fragment class (higher: more recall, larger fractions)")
    p.add_argument("--false-fragment", type=float, default=0.0, metavar="W",
                   help="weight of the false-fragment loss: soft fragment area on true blastomere "
                        "pixels, as a share of the blastomere area (hard negatives; 0: off)")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                   help="auto: bf16 autocast where the device computes bf16 natively, else fp32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--workers", type=int, default=1, help="data loader processes (0: in the main process)")
    p.add_argument("--freeze-bn", action="store_true", help="BatchNorm uses running statistics throughout")
    p.add_argument("--device", default="auto")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--progress-json", action="store_true", help="JSON lines on stdout (docs/training.md)")
    p.add_argument("--no-bar", action="store_true", help="no progress bar on stderr")


def _build_model(args):
    from model.checkpoint import load_checkpoint
    from model.config import named_config
    from model.network import AttnRegDeepLab

    if args.init:
        ck = load_checkpoint(args.init)
        if args.input_size and args.input_size != ck.config.input_size:
            cfg = dataclasses.replace(ck.config, input_size=args.input_size)
            cfg.validate()
            model = AttnRegDeepLab(cfg)
            model.load_state_dict(ck.model.state_dict())
            return model, {"init": str(args.init), "init_version": ck.version}
        return ck.model, {"init": str(args.init), "init_version": ck.version}
    over = {k: v for k, v in (("input_size", args.input_size), ("depth", args.depth), ("width", args.width)) if v}
    return AttnRegDeepLab(named_config(args.config, **over)), {}


def _data(args):
    from app.core import datasets as ds

    train_parts, val_parts = [], []
    for spec in args.data:
        frames = ds.open_data(spec)
        if isinstance(frames, ds.SyntheticFrames):
            train_parts.append(frames)
            if args.val_synthetic and not args.val_data:
                val_parts.append(ds.SyntheticFrames(args.val_synthetic, frames.seed, fresh=False,
                                                    base=ds.VAL_SEED_BASE))
            continue
        if args.val_data:
            train_parts.append(frames)
            continue
        tr, va = ds.split_by_embryo(frames, args.val_fraction, args.seed)
        train_parts.append(tr)
        if len(va):
            val_parts.append(va)
    for spec in args.val_data:
        val_parts.append(ds.open_data(spec))
    train = ds.Concat(train_parts)
    if len(train) == 0:
        raise ds.DataError("no training frames left after the validation split")
    return train, ds.Concat(val_parts) if val_parts else None


def run(args) -> int:
    from model.device import cap_cpu_threads, resolve_device
    from model.training.losses import LossWeights
    from model.training.trainer import Trainer, TrainOptions

    if args.reset_head and not args.init:
        print("error: --reset-head refits the head of an --init checkpoint; give --init", file=sys.stderr)
        return 2
    if args.resume and args.init and (args.out / "last.pt").exists():
        print("--resume continues from last.pt in --out; --init is ignored", file=sys.stderr)
        args.init = None
    cap_cpu_threads(args.threads)
    device = resolve_device(args.device)
    try:
        train, val = _data(args)
    except Exception as exc:  # unreadable data: one clear line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model, init_meta = _build_model(args)
    if args.reset_head and args.init:  # not when resuming: last.pt already has the refitted head
        try:
            model.reset_regression_head()
        except ValueError as exc:
            print(f"error: --reset-head: {exc}", file=sys.stderr)
            return 2
        init_meta["reset_head"] = True
    meta = {"data": list(args.data), "val_data": list(args.val_data), "seed": args.seed,
            "command": "main.py train " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "",
            "n_train": len(train), "n_val": len(val) if val else 0,
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **init_meta}
    opts = TrainOptions(
        out=args.out, mode=args.mode, epochs=args.epochs, steps_per_epoch=args.steps,
        batch_size=args.batch_size, lr=args.lr,
        time_budget_s=args.time_budget * 60 if args.time_budget else None, seed=args.seed,
        whole_frame_p=args.whole_frame_p, workers=args.workers, freeze_bn=args.freeze_bn,
        resume=args.resume, progress_json=args.progress_json, progress_bar=not args.no_bar,
        weights=LossWeights(consistency=args.consistency, fragment_ce_weight=args.fragment_weight,
                            false_fragment=args.false_fragment),
        precision=args.precision, metadata=meta)
    trainer = Trainer(model, train, val, opts, device)
    try:
        val_metrics = trainer.run()
    finally:
        from model.training.distributed import cleanup

        cleanup()
    if trainer.info.is_main and not args.progress_json:
        shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in val_metrics.items()}
        print(f"done: {args.out} (best.pt, last.pt, metrics.csv); last validation {shown}")
    return 0
