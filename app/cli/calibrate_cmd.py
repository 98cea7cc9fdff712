"""`main.py calibrate`: fit what the shown ± means and the unusual-image threshold (model/calibration.py).

    python main.py calibrate --model CKPT --cv runs/real_cv.json --synthetic 120 --out CKPT2

Interval rows: the held-out real predictions of a leave-one-embryo-out run
(``evaluate --leave-one-embryo-out --json``), plus synthetic frames graded
by --model (seeds apart from training, validation and the fixed test set).
Latent statistics: --model on the real frames of --data and the synthetic
frames. Writes a copy of --model with the calibration in its metadata (a new
version) and prints the coverage per source.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CALIBRATION_SEED_BASE = 7_000_000  # apart from TRAIN_SEED_BASE, VAL_SEED_BASE and the test seeds


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, type=Path, help="checkpoint to calibrate")
    p.add_argument("--cv", type=Path, action="append", default=[],
                   help="JSON of evaluate --leave-one-embryo-out (held-out real predictions; repeatable)")
    p.add_argument("--data", action="append", default=[], help="labelled real frames for the latent statistics")
    p.add_argument("--synthetic", type=int, default=120, help="synthetic frames graded by --model")
    p.add_argument("--coverage", type=float, default=0.8, help="share of frames the interval must cover")
    p.add_argument("--out", required=True, type=Path, help="calibrated checkpoint to write")
    p.add_argument("--threads", type=int)


def _cv_rows(path: Path) -> list[tuple[float, float, float]]:
    """(raw spread, mask %, error) of each held-out frame of a leave-one-embryo-out JSON."""
    try:
        return [(float(r["uncertainty"]), float(r["mask_pct"]), float(r["mask_pct"]) - float(r["true_pct"]))
                for r in json.loads(path.read_text())["images"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not the JSON of evaluate --leave-one-embryo-out ({exc!r})") from None


def run(args) -> int:
    try:
        return _run(args)
    except Exception as exc:  # unreadable checkpoint, JSON or data: one clear line, nothing written
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    import numpy as np

    from app.core import datasets as ds
    from model.calibration import Calibration, coverage_of, fit_interval, fit_latent
    from model.checkpoint import load_checkpoint, save_checkpoint
    from model.predictor import Predictor

    ck = load_checkpoint(args.model)
    meta = {k: v for k, v in ck.metadata.items() if k != "calibration"}
    rows: dict[str, list[tuple[float, float, float]]] = {"real held-out": [], "synthetic": []}
    for path in args.cv:
        rows["real held-out"] += _cv_rows(Path(path))
    data = [ds.open_data(spec) for spec in args.data]  # a bad spec fails before minutes of grading
    predictor = Predictor(ck.model, ck.version, device="cpu", threads=args.threads, metadata=meta)
    latents = []
    synth = ds.SyntheticFrames(args.synthetic, 0, fresh=False, base=CALIBRATION_SEED_BASE)
    for i in range(len(synth)):
        fr = synth.get(i)
        p = predictor.predict(fr.image)
        rows["synthetic"].append((p.uncertainty, p.fragment_pct_mask, p.fragment_pct_mask - 100 * fr.target_fraction()))
        latents.append(p.latent)
        print(f"\rsynthetic {i + 1}/{len(synth)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    for frames in data:
        latents += [predictor.predict(frames.get(i).image).latent for i in range(len(frames))]
    pooled = [r for rs in rows.values() for r in rs]
    if len(pooled) < 10:
        print("error: fewer than 10 rows to calibrate on", file=sys.stderr)
        return 2
    raw, pct, err = (np.array(c) for c in zip(*pooled))
    offset, scale, slope = fit_interval(raw, pct, err, args.coverage)
    cal = Calibration(coverage=args.coverage, offset=offset, scale=scale, slope=slope)
    if latents and latents[0] is not None:
        cal.latent_mean, cal.latent_std, cal.ood_threshold = fit_latent(np.stack(latents))
    cal.measured = {name: {"frames": len(rs), "coverage": round(coverage_of(cal, *zip(*rs)), 3) if rs else None,
                           "mean_half_width": round(float(np.mean([cal.half_width(a, b) for a, b, _ in rs])), 2)
                           if rs else None}
                    for name, rs in rows.items()}
    cal.fitted_on = (f"{len(rows['real held-out'])} held-out real frames ({', '.join(map(str, args.cv))}) + "
                     f"{len(rows['synthetic'])} synthetic frames; latent over {len(latents)} frames")
    meta["calibration"] = cal.to_dict()
    meta["calibrated_from"] = ck.version
    version = save_checkpoint(args.out, ck.model, meta)
    print(f"half-width = {offset:.2f} + {scale:.2f} x raw + {slope:.2f} x mask %  (target coverage {args.coverage:.0%})")
    for name, m in cal.measured.items():
        print(f"  {name:14s} frames {m['frames']:4d}  coverage {m['coverage']}  mean half-width {m['mean_half_width']}")
    print(f"unusual above latent score {cal.ood_threshold:.2f}; wrote {args.out} (version {version})")
    return 0
