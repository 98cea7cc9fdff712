"""`main.py evaluate`: score a checkpoint on labelled frames through the predictor.

Metrics and their conventions: model/training/evaluation.py and metrics.py;
JSON keys: docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", action="append", required=True, metavar="SPEC",
                   help="images/+masks/ folder, labelme folder, .h5 store or synth:N[:SEED] (repeatable)")
    p.add_argument("--model", type=Path, help="checkpoint (.pt); with --leave-one-embryo-out the starting "
                                              "point of every fold (default: the bundled model)")
    p.add_argument("--json", type=Path, help="write all metrics and per-image rows here")
    p.add_argument("--plots", type=Path, help="folder for PNG plots (Bland-Altman, confusion, calibration)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int)
    p.add_argument("--scheme", default="istanbul")
    p.add_argument("--limit", type=int, help="only the first N frames of the data")
    p.add_argument("--no-tta", action="store_true", help="no mirror averaging (faster)")
    p.add_argument("--quiet", action="store_true")
    cv = p.add_argument_group("leave-one-embryo-out (app/core/real_cv.py)")
    cv.add_argument("--leave-one-embryo-out", action="store_true",
                    help="for every embryo of --data: train on the others, grade it held out")
    speed = cv.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="5 minutes of training per embryo (default)")
    speed.add_argument("--full", action="store_true", help="20 minutes per embryo (the model card's number)")
    speed.add_argument("--minutes", type=float, help="minutes of training per embryo (0: score --model as is)")
    speed.add_argument("--steps", type=int, help="training steps per embryo instead of minutes (fair A/B on a "
                                                 "loaded machine)")
    cv.add_argument("--out", type=Path, default=Path("runs/real_cv"), help="run folder of the folds")
    cv.add_argument("--no-copy-paste", action="store_true", help="procedural synthetic frames only")
    cv.add_argument("--false-fragment", type=float, help="false-fragment loss weight (recipe: 1)")
    cv.add_argument("--fragment-weight", type=float, help="fragment CE weight (recipe: 1.5)")
    cv.add_argument("--lr", type=float, help="learning rate (recipe: 2e-4)")
    cv.add_argument("--synth", type=int, help="synthetic frames per epoch (recipe: 96)")
    cv.add_argument("--real-repeat", type=int, help="copies of each held-in real frame per epoch (recipe: 2)")
    cv.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    cv.add_argument("--seed", type=int, default=0)


def _open(specs):
    from app.core import datasets as ds

    parts = []
    for spec in specs:
        frames = ds.open_data(spec)
        if isinstance(frames, ds.SyntheticFrames):  # evaluation draws a fixed set
            frames.fresh = False
        parts.append(frames)
    return ds.Concat(parts)


def write_plots(res: dict, folder: Path) -> list[Path]:
    import numpy as np

    from app.core import plots

    rows = res["images"]
    t = [r["true_pct"] for r in rows]
    out = [
        plots.bland_altman(folder / "bland_altman_mask.png", [r["mask_pct"] for r in rows], t,
                           res["bland_altman_mask_pts"], f"Bland-Altman, mask fraction (n={len(rows)})"),
        plots.confusion(folder / "confusion.png", np.array(res["confusion_matrix"]), res["grade_labels"],
                        f"{res['scheme']} grade from mask (n={len(rows)})"),
        plots.calibration(folder / "calibration_mask.png", [r["mask_pct"] for r in rows], t,
                          res["calibration_mask_pct"], "Calibration, mask fraction"),
    ]
    reg = [r["regression_pct"] for r in rows]
    if any(v is not None for v in reg):
        reg = [float("nan") if v is None else v for v in reg]
        out.append(plots.bland_altman(folder / "bland_altman_regression.png", reg, t,
                                      res["bland_altman_regression_pts"],
                                      f"Bland-Altman, regressed fraction (n={len(rows)})"))
    return out


def run_cv(args) -> int:
    import dataclasses

    from app.core import real_cv
    from app.core.resources import default_model_path

    if len(args.data) != 1:
        print("error: --leave-one-embryo-out takes one labelled real --data set", file=sys.stderr)
        return 2
    r = real_cv.Recipe(precision=args.precision, seed=args.seed)
    minutes = args.minutes if args.minutes is not None else real_cv.FULL_MINUTES if args.full else real_cv.QUICK_MINUTES
    over = {"minutes": minutes, "copy_paste": not args.no_copy_paste, "false_fragment": args.false_fragment,
            "fragment_weight": args.fragment_weight, "lr": args.lr, "synth_per_epoch": args.synth,
            "steps": args.steps, "real_repeat": args.real_repeat}
    r = dataclasses.replace(r, **{k: v for k, v in over.items() if v is not None})
    init = args.model or default_model_path()
    try:
        res = real_cv.leave_one_embryo_out(args.data[0], Path(init), r, args.out, device=args.device,
                                           log=(lambda m: None) if args.quiet else print, threads=args.threads)
    except Exception as exc:  # unreadable data or checkpoint: one clear line
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(real_cv.table(res))
    budget = f"{r.steps} steps" if r.steps else f"{r.minutes:g} min"
    print(f"recipe: {budget} per embryo from {init}; few embryos: read per embryo, not only pooled")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1, allow_nan=False, default=float))
    return 0


def run(args) -> int:
    from model.predictor import Predictor

    if args.leave_one_embryo_out:
        return run_cv(args)
    if args.model is None:
        print("error: --model is required", file=sys.stderr)
        return 2
    from model.training.evaluation import evaluate_frames

    try:
        frames = _open(args.data)
    except Exception as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    predictor = Predictor.from_checkpoint(args.model, device=args.device, threads=args.threads,
                                          tta=not args.no_tta)
    res = evaluate_frames(predictor, frames, args.scheme, args.limit, progress=not args.quiet)
    res = {"model": str(args.model), "model_version": predictor.version, "data": list(args.data), **res}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1, allow_nan=False))
    if args.plots:
        write_plots(res, args.plots)
    keys = ("n_images", "fragment_dice", "blastomere_dice", "fragment_iou", "fraction_mae_pts_mask",
            "fraction_mae_pts_regression", "grade_accuracy", "grade_kappa_quadratic")
    for k in keys:
        v = res[k]
        print(f"{k:32s} {'n/a' if v is None else (f'{v:.4f}' if isinstance(v, float) else v)}")
    ba = res["bland_altman_mask_pts"]
    if ba["n"]:
        print(f"{'bland_altman_mask_bias_pts':32s} {ba['bias']:.3f} (LoA {ba['loa_low']:.2f} .. {ba['loa_high']:.2f})")
    return 0
