"""Colouring masks, outlines and attention maps into RGBA arrays; display levels. No Qt.

Everything here is numpy (OpenCV for the embryo region behind attention maps), no Qt, so it is unit-tested directly and can
recolour a bounding box of a mask in place while a brush paints
(``colour_mask_region``): work proportional to the box, never to the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# class index -> (name, RGB). Background is never drawn.
CLASSES: dict[int, tuple[str, tuple[int, int, int]]] = {
    1: ("blastomere", (40, 160, 255)),
    2: ("fragment", (255, 80, 40)),
}


@dataclass
class MaskStyle:
    opacity: float = 0.45  # 0..1
    outline: bool = False  # outline only instead of filled
    visible: dict[int, bool] = field(default_factory=lambda: {c: True for c in CLASSES})

    def lut(self) -> np.ndarray:
        """256x4 uint8 look-up table: class index -> RGBA (0 = transparent)."""
        lut = np.zeros((256, 4), np.uint8)
        alpha = int(round(255 * min(max(self.opacity, 0.0), 1.0)))
        if self.outline:
            alpha = max(alpha, 200)  # a thin outline at 45 % is invisible
        for c, (_, rgb) in CLASSES.items():
            if self.visible.get(c, True):
                lut[c, :3] = rgb
                lut[c, 3] = alpha
        return lut


def _outline(mask: np.ndarray) -> np.ndarray:
    """Boolean: pixels whose 4-neighbourhood holds another class (edges of the array excluded)."""
    edge = np.zeros(mask.shape, bool)
    edge[1:, :] |= mask[1:, :] != mask[:-1, :]
    edge[:-1, :] |= mask[:-1, :] != mask[1:, :]
    edge[:, 1:] |= mask[:, 1:] != mask[:, :-1]
    edge[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    return edge


def colour_mask(mask: np.ndarray, style: MaskStyle) -> np.ndarray:
    """HxW class mask -> HxWx4 uint8 RGBA (C-contiguous, as colour_mask_region needs)."""
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    colour_mask_region(rgba, mask, style, 0, mask.shape[0], 0, mask.shape[1])
    return rgba


def colour_mask_region(rgba: np.ndarray, mask: np.ndarray, style: MaskStyle,
                       y0: int, y1: int, x0: int, x1: int) -> tuple[int, int, int, int]:
    """Recolour ``rgba[y0:y1, x0:x1]`` from ``mask`` in place; returns the box actually written.

    In outline mode the box is grown by one pixel, since an edit changes the
    outline of its neighbours too.
    """
    h, w = mask.shape
    if style.outline:
        y0, x0, y1, x1 = y0 - 1, x0 - 1, y1 + 1, x1 + 1
    y0, x0, y1, x1 = max(0, y0), max(0, x0), min(h, y1), min(w, x1)
    if y1 <= y0 or x1 <= x0:
        return y0, y1, x0, x1
    lut = style.lut()
    lut32 = lut.view(np.uint32).reshape(256)  # one 32-bit lookup per pixel, not four bytes
    out32 = rgba.view(np.uint32).reshape(rgba.shape[:2])
    if style.outline:
        # context of one pixel so edges at the box border are right
        cy0, cx0, cy1, cx1 = max(0, y0 - 1), max(0, x0 - 1), min(h, y1 + 1), min(w, x1 + 1)
        sub = mask[cy0:cy1, cx0:cx1]
        edge = _outline(sub)[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
        block = lut32.take(mask[y0:y1, x0:x1])
        block[~edge] = 0
    else:
        block = lut32.take(mask[y0:y1, x0:x1])
    out32[y0:y1, x0:x1] = block
    return y0, y1, x0, x1


# A perceptual-ish "inferno"-like ramp for attention (black-red-yellow-white), 256 entries.
def _heat_lut() -> np.ndarray:
    stops = np.array([[0, 0, 0], [120, 20, 120], [230, 60, 30], [255, 200, 40], [255, 255, 220]], float)
    x = np.linspace(0, len(stops) - 1, 256)
    i = np.minimum(x.astype(int), len(stops) - 2)
    t = (x - i)[:, None]
    return (stops[i] * (1 - t) + stops[i + 1] * t).astype(np.uint8)


HEAT_LUT = _heat_lut()


def colour_heatmap(att: np.ndarray, opacity: float) -> np.ndarray:
    """HxW float in [0, 1] -> HxWx4 uint8; alpha grows with the value so low attention stays clear."""
    a = np.clip(att, 0.0, 1.0)  # NaN stays NaN -> index 0 below
    a = np.where(np.isnan(a), 0.0, a).astype(np.float32, copy=False)
    idx = (a * 255).astype(np.uint8)
    rgba = np.empty((*a.shape, 4), np.uint8)
    rgba[..., :3] = HEAT_LUT[idx]
    rgba[..., 3] = (np.sqrt(a) * 255 * min(max(opacity, 0.0), 1.0)).astype(np.uint8)
    return rgba


# An attention map is shown only over the embryo (the class mask's cells and fragments, grown a
# little and feathered): outside it the gates see padding and background, and the graded crop's
# square edge said nothing about the embryo.
EMBRYO_GROW = 0.03  # of the image's longer side
FLAT_SPREAD = 0.02  # a gate whose 2nd-98th percentile range over the embryo is narrower is "flat"


@dataclass(frozen=True)
class AttentionScale:
    lo: float  # the map's 2nd percentile over the embryo: shown as "low"
    hi: float  # its 98th percentile: shown as "high"
    flat: bool  # too narrow a range to show anything: the legend says so, no map is drawn


def embryo_region(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """float32 weights in [0, 1]: 1 over the embryo, fading to 0 a few pixels outside it."""
    if mask is None or not (mask > 0).any():
        return np.ones(shape, np.float32)
    grow = max(3, int(EMBRYO_GROW * max(shape)))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    region = cv2.dilate((mask > 0).astype(np.uint8), k).astype(np.float32)
    return cv2.GaussianBlur(region, (0, 0), grow / 2)


def attention_scale(att: np.ndarray, region: np.ndarray) -> AttentionScale:
    inside = att[region > 0.5]
    if inside.size == 0:
        inside = att.ravel()
    lo, hi = (float(v) for v in np.nanpercentile(inside, [2, 98]))
    return AttentionScale(lo, hi, not hi - lo >= FLAT_SPREAD)


def colour_attention(att: np.ndarray, region: np.ndarray, scale: AttentionScale, opacity: float) -> np.ndarray:
    """The map stretched from the embryo's low to high, shown over the embryo only."""
    stretched = (att - scale.lo) / max(scale.hi - scale.lo, 1e-6)
    rgba = colour_heatmap(stretched, opacity)
    rgba[..., 3] = (rgba[..., 3] * np.clip(region, 0.0, 1.0)).astype(np.uint8)
    return rgba


def percentile_levels(img: np.ndarray, low: float = 0.5, high: float = 99.5,
                      max_samples: int = 1 << 16) -> tuple[float, float]:
    """Display levels from percentiles of a subsample (fast on big 16-bit frames)."""
    # RGB: one pair of levels over all channel values, so a tinted brightfield image is not
    # turned into a saturated colour by stretching a narrow luminance range
    flat = img.reshape(-1)
    step = max(1, flat.size // max_samples)
    sample = flat[::step]
    lo, hi = np.percentile(sample, [low, high])
    if hi <= lo:
        hi = lo + 1.0
    return float(lo), float(hi)


def display_levels(img: np.ndarray) -> tuple[float, float]:
    """Default levels: percentiles 0.5 / 99.5 for gray and 16-bit images; 8-bit colour as recorded.

    Stretching a tinted 8-bit brightfield RGB frame to its percentiles turns a
    faint pink into a saturated red, so those keep (0, 255) until the user
    adjusts the levels.
    """
    if img.ndim == 3 and img.dtype == np.uint8:
        return 0.0, 255.0
    return percentile_levels(img)
