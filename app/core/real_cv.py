"""Leave-one-embryo-out: the project's honest number on real embryos (Qt-free).

For every embryo of a labelled real set, train the recipe on the other
embryos (their frames repeated, among copy-paste synthetic frames cut from
those same embryos only) within a time budget, then grade the left-out
embryo's frames through the full predictor. Frames of one embryo are
near-duplicates, so an embryo is never on both sides.

Numbers per embryo and pooled over all held-out frames: fragment Dice
(pooled pixels), mask fraction MAE (points, mean over frames) and the
false-fragment area (pixels predicted fragment where the truth is
blastomere, as % of the true blastomere area, pooled).

A budget of 0 minutes trains nothing: it scores the starting checkpoint on
each embryo, the baseline the recipe must beat.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core import datasets as ds

QUICK_MINUTES = 5.0  # per fold: four embryos in about 25 minutes on 2 cores
FULL_MINUTES = 20.0


@dataclass
class Recipe:
    """What one fold trains with (the new default's recipe unless said otherwise)."""

    minutes: float = QUICK_MINUTES
    # A step budget instead (whole epochs, no clock): arms of an ablation run side by side on a
    # shared machine then train exactly as much each, whatever the load.
    steps: int | None = None
    # Arm D of docs/results.md, the bundled model's recipe: few real copies among many
    # copy-paste frames (8 copies fitted the held-in embryos' own fragmentation level).
    real_repeat: int = 2  # each held-in real frame this many times per epoch
    synth_per_epoch: int = 96
    copy_paste: bool = True  # synthetic frames with real texture cut from the held-in embryos
    batch_size: int = 8
    lr: float = 2e-4
    fragment_weight: float = 1.5  # 3.0 before: it bought fragment recall with false fragments
    false_fragment: float = 1.0
    whole_frame_p: float = 0.15
    mode: str = "end-to-end"
    precision: str = "auto"
    seed: int = 0


def embryo_groups(frames) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i in range(len(frames)):
        groups.setdefault(frames.key(i), []).append(i)
    return groups


def training_frames(real, held_in: list[int], recipe: Recipe, fold: int):
    parts = [ds.Subset(real, [i for _ in range(recipe.real_repeat) for i in held_in])]
    if recipe.synth_per_epoch:
        bank = ds.real_bank(ds.Subset(real, held_in), seed=recipe.seed) if recipe.copy_paste else None
        parts.append(ds.SyntheticFrames(recipe.synth_per_epoch, seed=1000 + 10 * recipe.seed + fold, bank=bank))
    return ds.Concat(parts)


def train_fold(init: Path, frames, recipe: Recipe, out: Path, device: str = "cpu"):
    """Fine-tune ``init`` on ``frames`` for the recipe's minutes; returns the trained model."""
    from model.checkpoint import load_checkpoint
    from model.device import resolve_device
    from model.training.losses import LossWeights
    from model.training.trainer import Trainer, TrainOptions

    model = load_checkpoint(init).model
    if (recipe.steps or 0) <= 0 and recipe.minutes <= 0:
        return model
    epochs, budget = 10_000, recipe.minutes * 60
    if recipe.steps:
        per_epoch = max(1, len(frames) // recipe.batch_size)
        epochs, budget = max(1, math.ceil(recipe.steps / per_epoch)), None
    opts = TrainOptions(
        out=out, mode=recipe.mode, epochs=epochs, batch_size=recipe.batch_size, lr=recipe.lr,
        time_budget_s=budget, seed=recipe.seed, whole_frame_p=recipe.whole_frame_p,
        workers=1, progress_bar=False, precision=recipe.precision,
        weights=LossWeights(fragment_ce_weight=recipe.fragment_weight, false_fragment=recipe.false_fragment),
        metadata={"recipe": dataclasses.asdict(recipe), "init": str(init)},
    )
    trainer = Trainer(model, frames, None, opts, resolve_device(device))
    trainer.run()
    return trainer.model


def leave_one_embryo_out(data: str, init: Path, recipe: Recipe, out: Path, device: str = "cpu",
                         log=print, threads: int | None = None) -> dict:
    from model.device import cap_cpu_threads
    from model.grading import get_scheme
    from model.predictor import Predictor
    from model.training import metrics as M
    from model.training.evaluation import frame_row, summarise

    real = ds.open_data(data)
    groups = embryo_groups(real)
    if len(groups) < 2:
        raise ds.DataError(f"{data}: leave-one-embryo-out needs at least two embryos, found {len(groups)}")
    sch = get_scheme("istanbul")
    pooled, rows, folds = M.SegCounter(3), [], []
    for k, (embryo, held_out) in enumerate(sorted(groups.items())):
        held_in = [i for e, idx in groups.items() if e != embryo for i in idx]
        # Every fold trains with the same threads: the predictor below caps them for grading,
        # and a later fold must not inherit that cap.
        cap_cpu_threads(threads or os.cpu_count() or 1)
        t0 = time.monotonic()
        model = train_fold(init, training_frames(real, held_in, recipe, k), recipe, out / f"fold{k}", device)
        trained = time.monotonic() - t0
        predictor = Predictor(model, version=f"fold{k}", device=device, threads=threads or os.cpu_count())
        seg, fold_rows = M.SegCounter(3), []
        for i in held_out:
            fr = real.get(i)
            pred = predictor.predict(fr.image)
            seg.update(pred.class_mask, fr.mask)
            pooled.update(pred.class_mask, fr.mask)
            fold_rows.append({**frame_row(pred, fr, sch), "embryo": embryo})
        res = summarise(fold_rows, seg, sch)
        fold = {"embryo": embryo, "frames": len(held_out), "train_frames": len(held_in),
                "train_minutes": round(trained / 60, 1), **_headline(res)}
        folds.append(fold)
        rows += fold_rows
        log(_fold_line(fold))
    total = summarise(rows, pooled, sch)
    return {"data": data, "init": str(init), "recipe": dataclasses.asdict(recipe), "folds": folds,
            "pooled": {"frames": len(rows), **_headline(total)}, "images": rows}


def _headline(res: dict) -> dict:
    keys = ("fragment_dice", "blastomere_dice", "fraction_mae_pts_mask", "fraction_mae_pts_regression",
            "false_fragment_area_pct", "grade_accuracy")
    out = {k: res.get(k) for k in keys}
    imgs = res.get("images", [])
    out["true_pct"] = [round(r["true_pct"], 1) for r in imgs]
    out["mask_pct"] = [round(r["mask_pct"], 1) for r in imgs]
    out["max_frame_error_pts"] = max((abs(r["mask_pct"] - r["true_pct"]) for r in imgs), default=None)
    return out


def _f(v, spec=".3f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)


def _fold_line(f: dict) -> str:
    return (f"{f['embryo'][:34]:34s} {f['frames']:>3d} {_f(f['fragment_dice'])} {_f(f['fraction_mae_pts_mask'], '.2f'):>6s} "
            f"{_f(f['false_fragment_area_pct'], '.2f'):>6s}  true {f['true_pct']} -> mask {f['mask_pct']}")


def table(res: dict) -> str:
    head = f"{'held-out embryo':34s} {'n':>3s} {'Dice':5s} {'MAE':>6s} {'false%':>6s}"
    lines = [head] + [_fold_line(f) for f in res["folds"]]
    p = res["pooled"]
    lines.append(f"{'pooled':34s} {p['frames']:>3d} {_f(p['fragment_dice'])} {_f(p['fraction_mae_pts_mask'], '.2f'):>6s} "
                 f"{_f(p['false_fragment_area_pct'], '.2f'):>6s}")
    return "\n".join(lines)


__all__ = ["FULL_MINUTES", "QUICK_MINUTES", "Recipe", "embryo_groups", "leave_one_embryo_out", "table"]
