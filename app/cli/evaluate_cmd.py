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
    p.add_argument("--model", required=True, type=Path, help="checkpoint (.pt)")
    p.add_argument("--json", type=Path, help="write all metrics and per-image rows here")
    p.add_argument("--plots", type=Path, help="folder for PNG plots (Bland-Altman, confusion, calibration)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int)
    p.add_argument("--scheme", default="istanbul")
    p.add_argument("--limit", type=int, help="only the first N frames of the data")
    p.add_argument("--no-tta", action="store_true", help="no mirror averaging (faster)")
    p.add_argument("--quiet", action="store_true")


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


def run(args) -> int:
    from model.predictor import Predictor
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
