"""Validation during training: the predictor's fine-pass geometry on held-out frames.

Each frame is cropped around its true embryo with the predictor's margin
(no jitter, no augmentation, no mirror averaging) and scored with the
pooled-pixel metrics of ``metrics.py``. Cheaper than the full predictor
(``main.py evaluate`` runs that), and close to it when the coarse pass
finds the embryo.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from model.device import autocast
from model.grading import get_scheme
from model.training import metrics as M
from model.training.samples import IGNORE, SampleSpec, TrainingSet


@torch.no_grad()
def validate(model, frames, size: int, device: torch.device, batch_size: int = 8,
             precision: str = "fp32") -> dict:
    if frames is None or len(frames) == 0:
        return {}
    ds = TrainingSet(frames, SampleSpec(size=size, augment=False), train=False)
    was_training = model.training
    model.eval()
    seg = M.SegCounter(3)
    f_true, f_mask, f_reg = [], [], []
    try:
        for start in range(0, len(ds), batch_size):
            items = [ds[i] for i in range(start, min(len(ds), start + batch_size))]
            x = torch.stack([it["image"] for it in items]).to(device)
            with autocast(device, precision):
                out = model(x)
            pred = out.logits.argmax(1).cpu().numpy().astype(np.uint8)
            for j, it in enumerate(items):
                f_true.append(float(it["fraction"]))
                if bool(it["has_mask"]):
                    m = it["mask"].numpy()
                    ok = m != IGNORE
                    seg.update(pred[j][ok], m[ok])
                frag, cyto = np.count_nonzero(pred[j] == 2), np.count_nonzero(pred[j] > 0)
                f_mask.append(frag / cyto if cyto else 0.0)
                f_reg.append(float(out.fraction[j]) if out.fraction is not None else math.nan)
    finally:
        model.train(was_training)
    dice, iou = seg.dice(), seg.iou()
    sch = get_scheme("istanbul")
    grades_t = [sch.grade(100 * f) for f in f_true if not math.isnan(f)]
    grades_p = [sch.grade(100 * f) for f, t in zip(f_mask, f_true) if not math.isnan(t)]
    cm = M.confusion_matrix(grades_t, grades_p, sch.labels)
    res = {
        "n": len(ds),
        "fragment_dice": float(dice[2]),
        "blastomere_dice": float(dice[1]),
        "fragment_iou": float(iou[2]),
        "fraction_mae_pts_mask": M.mae_points(f_mask, f_true),
        "fraction_mae_pts_regression": M.mae_points(f_reg, f_true),
        "grade_accuracy": M.accuracy(cm),
        "grade_kappa_quadratic": M.quadratic_kappa(cm),
    }
    # Model selection: what grading depends on, the fragment boundary and
    # the mask's fraction (the predictor grades by the mask).
    fd = 0.0 if math.isnan(res["fragment_dice"]) else res["fragment_dice"]
    mae = res["fraction_mae_pts_mask"]
    res["score"] = fd - (0.0 if math.isnan(mae) else mae / 100.0)
    return res
