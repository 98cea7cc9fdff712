"""What the eraser gives back: the class a pixel would have without the fragment on it. Qt-free.

A fragment inside a cell is painted over blastomere; erasing it should give
the blastomere back, not punch a hole in the cell. A fragment outside the
cells lies on background. So an erased fragment pixel takes the class of
the nearest pixel that is not fragment (blastomere inside a cell,
background outside); an erased blastomere pixel becomes background. The
answer is read from the mask as it was when the stroke began, so pixels the
stroke has already given back never spread blastomere outwards.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.core.brush import BBox

BACKGROUND, BLASTOMERE, FRAGMENT = 0, 1, 2


def search_margin(radius: float) -> int:
    """How far around the brush to look for what lies under a fragment (pixels)."""
    return int(max(32, 2 * radius))


def underneath(before: np.ndarray, box: BBox, margin: int) -> np.ndarray:
    """For each pixel of ``box``: its class in ``before`` with every fragment taken away."""
    win = BBox.clipped(box.y0 - margin, box.y1 + margin, box.x0 - margin, box.x1 + margin, before.shape)
    sub = before[win.slices]
    frag = sub == FRAGMENT
    out = sub.copy()
    if frag.any():
        other = ~frag
        if not other.any():  # a fragment wider than the search: nothing known under it
            out[:] = BACKGROUND
        else:
            _, labels = cv2.distanceTransformWithLabels(frag.astype(np.uint8), cv2.DIST_L2, 3,
                                                        labelType=cv2.DIST_LABEL_PIXEL)
            lut = np.zeros(int(labels.max()) + 1, np.uint8)
            lut[labels[other]] = sub[other]
            out[frag] = lut[labels[frag]]
    return out[win.local(box)]


def erased_values(before: np.ndarray, box: BBox, hit: np.ndarray, radius: float,
                  only_fragment: bool) -> np.ndarray:
    """The values the eraser writes into ``box`` where ``hit``: fragment -> what lies under it,
    blastomere -> background (unless ``only_fragment``), background stays."""
    orig = before[box.slices]
    values = orig.copy()
    frag = hit & (orig == FRAGMENT)
    if frag.any():
        values[frag] = underneath(before, box, search_margin(radius))[frag]
    if not only_fragment:
        values[hit & (orig == BLASTOMERE)] = BACKGROUND
    return values
