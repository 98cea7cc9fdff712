"""Evaluation metrics (numpy only), shared by validation during training and `evaluate`.

Segmentation Dice and IoU are computed per class over ALL pixels of the set
(true/false positives and negatives summed over images, then one ratio),
not as a mean of per-image scores. An image with no fragment in truth or
prediction therefore adds nothing, and an image with fragments in only one
of them adds false negatives or positives: it is neither skipped nor scored
as a perfect 1. A class absent from both truth and prediction over the whole
set has Dice and IoU NaN (reported as null). ``SegCounter`` also counts the
images where the fragment class is absent from the truth but predicted
(``fragment_false_positive_images``) and vice versa.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


class SegCounter:
    def __init__(self, num_classes: int = 3):
        self.k = num_classes
        self.tp = np.zeros(num_classes, np.int64)
        self.fp = np.zeros(num_classes, np.int64)
        self.fn = np.zeros(num_classes, np.int64)
        self.n_images = 0
        self.fragment_fp_images = 0  # no fragment in truth, some predicted
        self.fragment_fn_images = 0  # fragment in truth, none predicted
        self.fragment_absent_images = 0  # no fragment in truth nor prediction

    def update(self, pred: np.ndarray, truth: np.ndarray) -> None:
        if pred.shape != truth.shape:
            raise ValueError(f"prediction {pred.shape} and truth {truth.shape} differ in shape")
        p, t = pred.ravel().astype(np.int64), truth.ravel().astype(np.int64)
        cm = np.bincount(t * self.k + p, minlength=self.k * self.k).reshape(self.k, self.k)
        tp = np.diag(cm)
        self.tp += tp
        self.fp += cm.sum(0) - tp
        self.fn += cm.sum(1) - tp
        self.n_images += 1
        if self.k > 2:
            in_t, in_p = cm[2].sum() > 0, cm[:, 2].sum() > 0
            self.fragment_fp_images += int(in_p and not in_t)
            self.fragment_fn_images += int(in_t and not in_p)
            self.fragment_absent_images += int(not in_t and not in_p)

    def dice(self) -> np.ndarray:
        d = 2 * self.tp + self.fp + self.fn
        return np.where(d > 0, 2 * self.tp / np.maximum(d, 1), np.nan)

    def iou(self) -> np.ndarray:
        d = self.tp + self.fp + self.fn
        return np.where(d > 0, self.tp / np.maximum(d, 1), np.nan)


def mae_points(pred: Sequence[float], truth: Sequence[float]) -> float:
    """Mean absolute error in percentage points of fractions in [0, 1]; NaN pairs are skipped."""
    p, t = np.asarray(pred, float), np.asarray(truth, float)
    ok = ~(np.isnan(p) | np.isnan(t))
    return float(np.mean(np.abs(p[ok] - t[ok])) * 100) if ok.any() else float("nan")


def confusion_matrix(truth: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Rows: truth, columns: prediction."""
    idx = {lab: i for i, lab in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), np.int64)
    for t, p in zip(truth, pred):
        cm[idx[t], idx[p]] += 1
    return cm


def accuracy(cm: np.ndarray) -> float:
    n = cm.sum()
    return float(np.trace(cm) / n) if n else float("nan")


def quadratic_kappa(cm: np.ndarray) -> float:
    """Cohen's kappa with quadratic weights w_ij = (i-j)^2 / (k-1)^2."""
    cm = np.asarray(cm, float)
    n, k = cm.sum(), cm.shape[0]
    if n == 0 or k < 2:
        return float("nan")
    i, j = np.indices((k, k))
    w = (i - j) ** 2 / (k - 1) ** 2
    expected = np.outer(cm.sum(1), cm.sum(0)) / n
    den = (w * expected).sum()
    if den == 0:  # one class only in both raters: agreement is trivially perfect
        return 1.0 if (w * cm).sum() == 0 else float("nan")
    return float(1.0 - (w * cm).sum() / den)


def bland_altman(pred: Sequence[float], truth: Sequence[float]) -> dict:
    """Bias (mean of pred - truth) and 95 % limits of agreement, in the inputs' unit."""
    p, t = np.asarray(pred, float), np.asarray(truth, float)
    ok = ~(np.isnan(p) | np.isnan(t))
    d = p[ok] - t[ok]
    if d.size == 0:
        return {"n": 0, "bias": math.nan, "sd": math.nan, "loa_low": math.nan, "loa_high": math.nan}
    sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
    bias = float(d.mean())
    return {"n": int(d.size), "bias": bias, "sd": sd, "loa_low": bias - 1.96 * sd, "loa_high": bias + 1.96 * sd}


def calibration_bins(pred: Sequence[float], truth: Sequence[float], edges: Sequence[float]) -> list[dict]:
    """Mean predicted and mean true value per bin of the prediction (for the calibration plot)."""
    p, t = np.asarray(pred, float), np.asarray(truth, float)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (p >= lo) & ((p < hi) | (hi == edges[-1]) & (p <= hi))
        if sel.any():
            out.append({"lo": float(lo), "hi": float(hi), "n": int(sel.sum()),
                        "pred": float(p[sel].mean()), "truth": float(t[sel].mean())})
    return out


def nan_to_none(x):
    """JSON has no NaN: recursively replace NaN floats by None."""
    if isinstance(x, dict):
        return {k: nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [nan_to_none(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x
