"""Is there one embryo in the frame, none, or several? Qt-free (numpy and OpenCV).

The model grades whatever it is given: a black, white, noise or empty-well
frame came out as "1 (good)" with a warning, and a well overview or a tiled
image was graded as the union of its embryos. This module looks at the
image's structure and at the prediction's cytoplasm and says when a frame
must not get a grade. The verdict is written into the prediction's
warnings under a fixed prefix, so it travels with the result cache, the
list, the panel and the CSV without a new cache field; ``presence_of``
reads it back. The predictor writes the same prefix itself when its coarse
pass finds several embryo-sized blobs apart (``model.predictor.SEVERAL_EMBRYOS``:
a tiled image of touching frames, which the image structure here misses).
"""

from __future__ import annotations

import cv2
import numpy as np

from app.core.imaging import to_gray_float
from model.predictor import SEVERAL_EMBRYOS

NO_EMBRYO = "no embryo found"
SEVERAL = SEVERAL_EMBRYOS  # one prefix for the predictor's verdict and this module's
_PREFIXES = (NO_EMBRYO, SEVERAL)
MODEL_NO_EMBRYO = ("no embryo found on the coarse pass", "no blastomere or fragment pixels found")
MIN_CYTOPLASM = 0.002  # of the frame: less is debris, not an embryo (the predictor's own cut)
WORK_SIDE = 256  # the image is judged at this size: structure of embryo scale, fast on any frame


def _work_image(image: np.ndarray) -> np.ndarray:
    g = to_gray_float(image)
    s = WORK_SIDE / max(g.shape)
    if s < 1:
        g = cv2.resize(g, (max(1, round(g.shape[1] * s)), max(1, round(g.shape[0] * s))),
                       interpolation=cv2.INTER_AREA)
    return g


def _structureless(g: np.ndarray) -> str | None:
    smooth = cv2.GaussianBlur(g, (0, 0), 3)
    if float(smooth.std()) < 0.01:
        return "the frame is blank (no structure)"
    # White noise loses almost all its variance to a blur; an embryo's outline keeps it.
    if float(smooth.std()) < 0.15 * float(g.std()):
        return "the frame is noise (no structure at embryo scale)"
    return None


def _objects(g: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """Embryo-sized textured blobs: (x, y, w, h, area) at the work size."""
    b = cv2.GaussianBlur(g, (0, 0), 1.5)
    gx, gy = cv2.Sobel(b, cv2.CV_32F, 1, 0), cv2.Sobel(b, cv2.CV_32F, 0, 1)
    mag = cv2.magnitude(gx, gy)
    top = float(np.percentile(mag, 99.5)) or 1.0
    u8 = np.clip(mag * (255.0 / top), 0, 255).astype(np.uint8)
    _, fg = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    k = max(3, max(g.shape) // 16) | 1
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    filled = fg.copy()  # holes (a cell's smooth inside) belong to the object
    cv2.floodFill(filled, np.zeros((fg.shape[0] + 2, fg.shape[1] + 2), np.uint8), (0, 0), 255)
    fg = fg | cv2.bitwise_not(filled) if fg[0, 0] == 0 else fg
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    return [tuple(int(v) for v in stats[i, :5]) for i in range(1, n)]


def _several(g: np.ndarray) -> str | None:
    objs = [o for o in _objects(g) if o[4] >= 0.02 * g.size]
    if len(objs) < 2:
        return None
    largest = max(o[4] for o in objs)
    # Alike in size and compact (round-ish), not touching the frame's edge like a well's rim.
    h, w = g.shape
    alike = [o for o in objs if o[4] >= 0.4 * largest and o[4] >= 0.5 * o[2] * o[3]
             and o[0] > 0 and o[1] > 0 and o[0] + o[2] < w and o[1] + o[3] < h]
    return f"{len(alike)} embryo-sized objects" if len(alike) >= 2 else None


def assess(image: np.ndarray, pred) -> tuple[str, str] | None:
    """(NO_EMBRYO or SEVERAL, why) when the frame must not be graded as one embryo, else None."""
    g = _work_image(image)
    why = _structureless(g)
    if why is None and any(w.startswith(MODEL_NO_EMBRYO) for w in pred.warnings):
        why = "the model found no embryo"
    if why is None:
        cyto = np.count_nonzero(pred.class_mask) / max(1, pred.class_mask.size)
        if cyto < MIN_CYTOPLASM:
            why = "no blastomere or fragment pixels"
    if why is not None:
        return NO_EMBRYO, why
    why = _several(g)
    return (SEVERAL, why) if why is not None else None


def annotate(image: np.ndarray, pred) -> None:
    """Add the verdict to ``pred.warnings`` (once) before the result is cached."""
    if presence_of(pred) is not None:
        return
    verdict = assess(image, pred)
    if verdict is not None:
        kind, why = verdict
        pred.warnings.append(f"{kind}: {why}; not graded")


def presence_of(pred) -> str | None:
    """NO_EMBRYO, SEVERAL or None (one embryo, gradable) for a prediction (cached or fresh)."""
    if pred is None:
        return None
    for w in pred.warnings:
        for p in _PREFIXES:
            if w.startswith(p + ":"):
                return p
    return None
