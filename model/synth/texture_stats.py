"""A texture statistic of blastomere interiors, to hold the synthetic look against real frames.

The local standard deviation of relative intensity (image / its local mean)
in a 7 x 7 window, over the eroded blastomere mask, as a distribution: smooth
procedural cytoplasm has a narrow one near zero, real granular cytoplasm a
wide one with a heavy tail. Two distributions are compared by the 1-D
Wasserstein distance of their log values (scale-free, no binning choice).
"""

from __future__ import annotations

import cv2
import numpy as np

from model import preprocess as pp
from model.synth.real_bank import relative_texture


def interior_local_std(image: np.ndarray, mask: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Local std of relative intensity at every eroded-blastomere pixel (float32, 1-D)."""
    g = pp.to_gray01(image)
    if scale != 1.0:  # compare at the real frames' scale (800 px time-lapse)
        size = (int(round(g.shape[1] / scale)), int(round(g.shape[0] / scale)))
        g = cv2.resize(g, size, interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    rel = relative_texture(g)
    m1 = cv2.boxFilter(rel, -1, (7, 7))
    m2 = cv2.boxFilter(rel * rel, -1, (7, 7))
    sd = np.sqrt(np.maximum(m2 - m1 * m1, 0))
    inner = cv2.erode((mask == 1).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))
    return sd[inner > 0].astype(np.float32)


def distance(a: np.ndarray, b: np.ndarray, n: int = 512) -> float:
    """Wasserstein-1 distance between the log10 distributions of two samples (quantile form)."""
    q = (np.arange(n) + 0.5) / n
    la, lb = np.log10(np.maximum(a, 1e-4)), np.log10(np.maximum(b, 1e-4))
    return float(np.mean(np.abs(np.quantile(la, q) - np.quantile(lb, q))))


__all__ = ["distance", "interior_local_std"]
