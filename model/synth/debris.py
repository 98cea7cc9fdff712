"""Cumulus clumps and debris OUTSIDE the zona: round-ish, granular, and label 0.

Real frames show clumps of leftover cumulus cells stuck to the zona or
drifting nearby; they look like fragments (small, round, granular) but are
not part of the embryo. Teaching the network that only what lies inside the
zona counts is the point of drawing them.
"""

from __future__ import annotations

import cv2
import numpy as np

from model.synth import shapes, texture


def draw(
    rng: np.random.Generator,
    dT: np.ndarray,
    H: np.ndarray,
    centre: tuple[float, float],
    r_outer: float,
    scale: float,
    n_clumps: int,
    dark: float,
) -> list[tuple[float, float, float]]:
    """Draw clumps into dT (transmission - 1) and height H in place; returns (x, y, r) of each blob.

    Blobs never reach inside r_outer of ``centre``, so they cannot touch a
    labelled pixel.
    """
    h, w = dT.shape
    ex, ey = centre
    placed: list[tuple[float, float, float]] = []
    for _ in range(n_clumps):
        near = rng.random() < 0.6  # stuck to the zona, or drifting in the medium
        a = rng.uniform(0, 2 * np.pi)
        spread = rng.uniform(5, 28) * scale
        d = r_outer + (rng.uniform(0, 10) if near else rng.uniform(30, 250)) * scale + spread
        cx, cy = ex + d * np.cos(a), ey + d * np.sin(a)
        n_blobs = int(rng.integers(1, 5) if rng.random() < 0.35 else rng.integers(5, 30))
        ext = 2.5 * spread + 14 * scale
        x0, y0 = max(int(cx - ext), 0), max(int(cy - ext), 0)
        x1, y1 = min(int(cx + ext) + 1, w), min(int(cy + ext) + 1, h)
        if x1 - x0 < 4 or y1 - y0 < 4:
            continue
        cov = np.zeros((y1 - y0, x1 - x0), np.float32)
        lvl = np.zeros_like(cov)
        off = np.array([x0 * 16, y0 * 16], np.int32)
        for _ in range(n_blobs):
            r = rng.uniform(2.5, 11) * scale
            x, y = rng.normal(cx, spread), rng.normal(cy, spread)
            dd = np.hypot(x - ex, y - ey)
            clear = r_outer + r * 1.3 + 4 * scale  # keep clear of the zona and its halo
            if dd < clear:
                x, y = ex + (x - ex) * clear / max(dd, 1e-3), ey + (y - ey) * clear / max(dd, 1e-3)
            if not (x0 - r < x < x1 + r and y0 - r < y < y1 + r):
                continue
            poly = shapes.blob_polygon(rng, x, y, r, rng.uniform(0.6, 1.0), 0.2, 16) - off
            shapes.fill(cov, poly, 1.0)
            shapes.fill(lvl, poly, float(rng.uniform(0.6, 1.0) - dark))
            placed.append((float(x), float(y), float(r)))
        if not cov.any():
            continue
        # Cumulus is coarser and more contrasted than cytoplasm: bright and dark specks.
        tex = texture.smooth_noise(rng, cov.shape, rng.uniform(0.9, 2.0) * scale)
        soft = cv2.GaussianBlur(cov, (0, 0), 0.8 * scale + 0.3)
        tw = dT[y0:y1, x0:x1]
        own = lvl + rng.uniform(0.1, 0.28) * tex
        own -= 1.0
        # T <- T (1 - soft) + soft own, written for dT = T - 1.
        tw *= 1 - soft
        tw += soft * own
        H[y0:y1, x0:x1] += soft * rng.uniform(0.6, 1.5)
    return placed
