"""Evaluation plots as PNG, drawn with OpenCV (no matplotlib in the bundle).

Bland-Altman (difference against mean, bias and 95 % limits of agreement),
the grade confusion matrix, and calibration (predicted against true
fragmentation, with per-bin means). Qt-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

W, H = 640, 520
L, R, T, B = 70, 20, 40, 60  # plot margins
FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK, GRAY, BLUE, RED, GREEN = (0, 0, 0), (170, 170, 170), (200, 90, 20), (40, 40, 210), (40, 150, 40)


class _Axes:
    def __init__(self, title: str, xlabel: str, ylabel: str, xlim, ylim):
        self.img = np.full((H, W, 3), 255, np.uint8)
        self.xlim, self.ylim = xlim, ylim
        cv2.putText(self.img, title, (L, 25), FONT, 0.55, BLACK, 1, cv2.LINE_AA)
        cv2.rectangle(self.img, (L, T), (W - R, H - B), BLACK, 1)
        for v in np.linspace(*xlim, 6):
            x, _ = self.xy(v, ylim[0])
            cv2.line(self.img, (x, H - B), (x, H - B + 5), BLACK, 1)
            cv2.putText(self.img, f"{v:.3g}", (x - 14, H - B + 20), FONT, 0.4, BLACK, 1, cv2.LINE_AA)
        for v in np.linspace(*ylim, 6):
            _, y = self.xy(xlim[0], v)
            cv2.line(self.img, (L - 5, y), (L, y), BLACK, 1)
            cv2.putText(self.img, f"{v:.3g}", (5, y + 4), FONT, 0.4, BLACK, 1, cv2.LINE_AA)
        cv2.putText(self.img, xlabel, (L + 150, H - 15), FONT, 0.5, BLACK, 1, cv2.LINE_AA)
        cv2.putText(self.img, ylabel, (5, T - 8), FONT, 0.45, BLACK, 1, cv2.LINE_AA)

    def xy(self, x: float, y: float) -> tuple[int, int]:
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        px = L + (x - x0) / max(x1 - x0, 1e-9) * (W - L - R)
        py = H - B - (y - y0) / max(y1 - y0, 1e-9) * (H - T - B)
        return int(round(px)), int(round(py))

    def points(self, xs, ys, color=BLUE, r: int = 3) -> None:
        for x, y in zip(xs, ys):
            if np.isfinite(x) and np.isfinite(y):
                cv2.circle(self.img, self.xy(x, y), r, color, -1, cv2.LINE_AA)

    def hline(self, y: float, color, label: str) -> None:
        a, b = self.xy(self.xlim[0], y), self.xy(self.xlim[1], y)
        cv2.line(self.img, a, b, color, 1, cv2.LINE_AA)
        cv2.putText(self.img, label, (b[0] - 170, a[1] - 4), FONT, 0.42, color, 1, cv2.LINE_AA)

    def line(self, p0, p1, color) -> None:
        cv2.line(self.img, self.xy(*p0), self.xy(*p1), color, 1, cv2.LINE_AA)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), self.img):
            raise OSError(f"could not write {path}")
        return path


def _lim(values, pad: float = 0.08) -> tuple[float, float]:
    v = np.asarray([x for x in values if np.isfinite(x)], float)
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    span = max(hi - lo, 1.0)
    return lo - pad * span, hi + pad * span


def bland_altman(path, pred_pct: Sequence[float], true_pct: Sequence[float], stats: dict, title: str) -> Path:
    p, t = np.asarray(pred_pct, float), np.asarray(true_pct, float)
    mean, diff = (p + t) / 2, p - t
    lims = [stats.get("loa_low", 0.0), stats.get("loa_high", 0.0), *diff]
    ax = _Axes(title, "mean of model and truth (% fragmentation)", "model - truth (points)",
               _lim(mean), _lim(lims))
    ax.points(mean, diff)
    for key, color, name in (("bias", RED, "bias"), ("loa_low", GRAY, "-1.96 SD"), ("loa_high", GRAY, "+1.96 SD")):
        v = stats.get(key)
        if v is not None and np.isfinite(v):
            ax.hline(v, color, f"{name} {v:+.2f}")
    return ax.save(path)


def calibration(path, pred_pct: Sequence[float], true_pct: Sequence[float], bins: list[dict], title: str) -> Path:
    p, t = np.asarray(pred_pct, float), np.asarray(true_pct, float)
    hi = max(_lim(list(p) + list(t))[1], 10.0)
    ax = _Axes(title, "true fragmentation (%)", "predicted fragmentation (%)", (0.0, hi), (0.0, hi))
    ax.line((0, 0), (hi, hi), GRAY)
    ax.points(t, p, BLUE, 2)
    # Per-bin means (bins of the prediction): where a red point leaves the diagonal, the model is biased there.
    ax.points([b["truth"] for b in bins], [b["pred"] for b in bins], RED, 5)
    return ax.save(path)


def confusion(path, cm: np.ndarray, labels: Sequence[str], title: str) -> Path:
    k = len(labels)
    cell = min(110, (min(W, H) - 160) // max(k, 1))
    img = np.full((T + 60 + k * cell + 40, L + 40 + k * cell + 40, 3), 255, np.uint8)
    cv2.putText(img, title, (10, 25), FONT, 0.55, BLACK, 1, cv2.LINE_AA)
    x0, y0 = L + 40, T + 40
    cv2.putText(img, "predicted", (x0 + k * cell // 2 - 35, y0 - 22), FONT, 0.45, BLACK, 1, cv2.LINE_AA)
    cv2.putText(img, "truth", (5, y0 + k * cell // 2), FONT, 0.45, BLACK, 1, cv2.LINE_AA)
    rows = np.maximum(cm.sum(1, keepdims=True), 1)
    for i in range(k):
        cv2.putText(img, str(labels[i]), (x0 - 25, y0 + i * cell + cell // 2 + 5), FONT, 0.5, BLACK, 1, cv2.LINE_AA)
        cv2.putText(img, str(labels[i]), (x0 + i * cell + cell // 2 - 5, y0 - 5), FONT, 0.5, BLACK, 1, cv2.LINE_AA)
        for j in range(k):
            share = cm[i, j] / rows[i, 0]
            shade = int(255 - 180 * share)
            p0, p1 = (x0 + j * cell, y0 + i * cell), (x0 + (j + 1) * cell, y0 + (i + 1) * cell)
            cv2.rectangle(img, p0, p1, (255, shade, shade), -1)
            cv2.rectangle(img, p0, p1, GRAY, 1)
            color = (255, 255, 255) if share > 0.6 else BLACK
            cv2.putText(img, str(int(cm[i, j])), (p0[0] + cell // 2 - 12, p0[1] + cell // 2 + 6),
                        FONT, 0.6, color, 1, cv2.LINE_AA)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"could not write {path}")
    return path
