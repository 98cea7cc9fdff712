"""Evaluation through the real inference path: ``Predictor.predict`` on full frames.

Fractions: the truth is fragment / (blastomere + fragment) of the full-
resolution true mask (0 when the frame has neither). "Mask" is the
predictor's fraction_mask, "regression" its head's fraction. Grades are the
scheme's grades of the true fraction and of the predicted mask fraction (what
the app shows); the regression's grades are reported separately.
Dice/IoU conventions: see ``metrics.py`` (pooled pixels).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from model.grading import fragment_fraction, get_scheme
from model.training import metrics as M

CALIBRATION_EDGES = (0, 5, 10, 15, 20, 25, 30, 40, 60, 100)


def evaluate_frames(predictor, frames, scheme: str = "istanbul", limit: int | None = None,
                    progress: bool = True) -> dict:
    sch = get_scheme(scheme)
    n = len(frames) if limit is None else min(limit, len(frames))
    seg = M.SegCounter(3)
    rows = []
    t0 = time.monotonic()
    for i in range(n):
        fr = frames.get(i)
        if fr.mask is None:
            continue  # grade-only labels cannot score a mask; evaluate needs masks
        pred = predictor.predict(fr.image, scheme=scheme)
        seg.update(pred.class_mask, fr.mask)
        rows.append(frame_row(pred, fr, sch))
        if progress:
            el = time.monotonic() - t0
            sys.stderr.write(f"\revaluating {i + 1}/{n}  eta {el / (i + 1) * (n - i - 1):.0f} s   ")
            sys.stderr.flush()
    if progress:
        sys.stderr.write("\n")
    return summarise(rows, seg, sch)


def frame_row(pred, fr, sch) -> dict:
    """One labelled frame's numbers (the per-image row of every evaluation)."""
    ft = fragment_fraction(fr.mask)
    ft = 0.0 if math.isnan(ft) else ft
    return {
        "source": fr.source, "key": fr.key,
        "true_pct": 100 * ft, "mask_pct": pred.fragment_pct_mask,
        "regression_pct": pred.fragment_pct_regression,
        "true_grade": sch.grade(100 * ft), "mask_grade": pred.grade,
        "regression_grade": (None if math.isnan(pred.fraction_regression)
                             else sch.grade(pred.fragment_pct_regression)),
        "uncertainty": pred.uncertainty, "warnings": pred.warnings,
        "fragment_dice": _image_fragment_dice(pred.class_mask, fr.mask),
        "false_fragment_pct": false_fragment_pct(pred.class_mask, fr.mask),
        "blastomere_px": int(np.count_nonzero(fr.mask == 1)),
        "false_fragment_px": int(np.count_nonzero((pred.class_mask == 2) & (fr.mask == 1))),
    }


def false_fragment_pct(pred: np.ndarray, truth: np.ndarray) -> float | None:
    """Pixels predicted fragment where the truth is blastomere, as % of the true blastomere area."""
    cell = truth == 1
    n = int(cell.sum())
    return None if n == 0 else 100.0 * int(np.count_nonzero(cell & (pred == 2))) / n


def _image_fragment_dice(pred: np.ndarray, truth: np.ndarray) -> float | None:
    """One image's fragment Dice, for per-embryo views; None when neither has fragments
    (Dice is undefined there; the set-level Dice pools pixels instead)."""
    p, t = pred == 2, truth == 2
    denom = int(p.sum()) + int(t.sum())
    return None if denom == 0 else 2.0 * int((p & t).sum()) / denom


def summarise(rows: list[dict], seg: M.SegCounter, sch) -> dict:
    t = [r["true_pct"] / 100 for r in rows]
    fm = [r["mask_pct"] / 100 for r in rows]
    fr = [r["regression_pct"] / 100 for r in rows]
    labels = list(sch.labels)
    cm = M.confusion_matrix([r["true_grade"] for r in rows], [r["mask_grade"] for r in rows], labels)
    reg_rows = [r for r in rows if r["regression_grade"] is not None]
    cm_r = M.confusion_matrix([r["true_grade"] for r in reg_rows], [r["regression_grade"] for r in reg_rows], labels)
    dice, iou = seg.dice(), seg.iou()
    pct = lambda xs: [100 * x for x in xs]  # noqa: E731
    ba_mask = M.bland_altman(pct(fm), pct(t))
    ba_reg = M.bland_altman(pct(fr), pct(t))
    out = {
        "n_images": len(rows),
        "scheme": sch.key,
        "background_dice": float(dice[0]), "blastomere_dice": float(dice[1]), "fragment_dice": float(dice[2]),
        "background_iou": float(iou[0]), "blastomere_iou": float(iou[1]), "fragment_iou": float(iou[2]),
        "fragment_false_positive_images": seg.fragment_fp_images,
        "fragment_false_negative_images": seg.fragment_fn_images,
        "fragment_absent_images": seg.fragment_absent_images,
        "fraction_mae_pts_mask": M.mae_points(fm, t),
        "false_fragment_area_pct": (100.0 * sum(r.get("false_fragment_px", 0) for r in rows)
                                    / max(1, sum(r.get("blastomere_px", 0) for r in rows))),
        "fraction_mae_pts_regression": M.mae_points(fr, t),
        "grade_accuracy": M.accuracy(cm),
        "grade_kappa_quadratic": M.quadratic_kappa(cm),
        "grade_accuracy_regression": M.accuracy(cm_r),
        "grade_kappa_quadratic_regression": M.quadratic_kappa(cm_r),
        "grade_labels": labels,
        "confusion_matrix": cm.tolist(),
        "confusion_matrix_regression": cm_r.tolist(),
        "bland_altman_mask_pts": ba_mask,
        "bland_altman_regression_pts": ba_reg,
        "calibration_mask_pct": M.calibration_bins(pct(fm), pct(t), CALIBRATION_EDGES),
        "images": rows,
    }
    return M.nan_to_none(out)


def mean_std(values) -> tuple[float, float]:
    v = np.asarray([x for x in values if x is not None], float)
    return (float(v.mean()), float(v.std())) if v.size else (math.nan, math.nan)
