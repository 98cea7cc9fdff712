"""Turning a microscope image into the network's input, shared by training and inference.

The network sees one gray channel, normalised per image by robust
percentiles, so that 8-bit time-lapse frames, 16-bit TIFFs and RGB
inverted-microscope JPEGs arrive on the same scale.

Resolution: an 800x800 time-lapse frame has the embryo in about half the
frame and fragments 5-40 px wide. Shrinking the whole frame to the network's
input would make the smallest fragments sub-pixel, so the predictor first
finds the embryo on a coarse whole-frame pass, then grades a square crop
around it (``embryo_crop``) at ``input_size`` (see docs/model-card.md for the
measurement behind the size).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Margin around the embryo's bounding box, as a fraction of its side: keeps
# the zona and perivitelline space (where fragments sit) inside the crop.
CROP_MARGIN = 0.25


def to_gray01(image: np.ndarray) -> np.ndarray:
    scale = 65535.0 if image.dtype == np.uint16 else 255.0 if image.dtype == np.uint8 else 1.0
    x = image.astype(np.float32) / scale
    if x.ndim == 3:
        x = x[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return x


def normalise(gray: np.ndarray) -> np.ndarray:
    """Map the 1st-99th percentile range to about [-2, 2], clipped."""
    sub = gray[:: max(1, gray.shape[0] // 256), :: max(1, gray.shape[1] // 256)]
    lo, hi = np.percentile(sub, (1.0, 99.0))
    span = max(float(hi - lo), 1e-3)
    return np.clip((gray - (lo + hi) / 2) / (span / 4), -4.0, 4.0).astype(np.float32)


@dataclass(frozen=True)
class Box:
    """A square window in image coordinates; may extend beyond the image."""

    x0: int
    y0: int
    side: int

    @property
    def x1(self) -> int:
        return self.x0 + self.side

    @property
    def y1(self) -> int:
        return self.y0 + self.side

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x0, self.y0, self.x1, self.y1)


def whole_frame_box(h: int, w: int) -> Box:
    side = max(h, w)
    return Box((w - side) // 2, (h - side) // 2, side)


def embryo_box(fg: np.ndarray, margin: float = CROP_MARGIN) -> Box | None:
    """Square box around the largest foreground blob of a boolean map, or None."""
    if not fg.any():
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    if n <= 1:
        return None
    # The embryo is the largest blob; blobs close to it (fragments, a cell
    # split off by the coarse pass) are kept, far ones (debris) are not.
    areas = stats[1:, cv2.CC_STAT_AREA]
    k = 1 + int(np.argmax(areas))
    x, y, bw, bh = (int(v) for v in stats[k, :4])
    cx, cy = x + bw / 2, y + bh / 2
    reach = max(bw, bh) * 0.75
    for j in range(1, n):
        if j == k or stats[j, cv2.CC_STAT_AREA] < 0.01 * areas.max():
            continue
        jx, jy, jw, jh = (int(v) for v in stats[j, :4])
        if abs(jx + jw / 2 - cx) < reach and abs(jy + jh / 2 - cy) < reach:
            x0, y0 = min(x, jx), min(y, jy)
            x1, y1 = max(x + bw, jx + jw), max(y + bh, jy + jh)
            x, y, bw, bh = x0, y0, x1 - x0, y1 - y0
    side = int(round(max(bw, bh) * (1 + 2 * margin)))
    return Box(int(round(x + bw / 2 - side / 2)), int(round(y + bh / 2 - side / 2)), max(side, 16))


def crop(image: np.ndarray, box: Box, fill: float | int = 0) -> np.ndarray:
    """Cut the box out of the image, padding with the image's edge values outside it."""
    h, w = image.shape[:2]
    top, left = max(0, -box.y0), max(0, -box.x0)
    bottom, right = max(0, box.y1 - h), max(0, box.x1 - w)
    inner = image[max(0, box.y0): min(h, box.y1), max(0, box.x0): min(w, box.x1)]
    if top or left or bottom or right:
        inner = cv2.copyMakeBorder(inner, top, bottom, left, right, cv2.BORDER_REPLICATE)
    return inner


def resize(img: np.ndarray, size: int, nearest: bool = False) -> np.ndarray:
    if img.shape[0] == size and img.shape[1] == size:
        return img
    if nearest:
        interp = cv2.INTER_NEAREST
    else:
        interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


def paste(dst: np.ndarray, src: np.ndarray, box: Box) -> None:
    """Write a box-sized array into dst where the box overlaps it."""
    h, w = dst.shape[:2]
    x0, y0 = max(0, box.x0), max(0, box.y0)
    x1, y1 = min(w, box.x1), min(h, box.y1)
    if x1 <= x0 or y1 <= y0:
        return
    dst[y0:y1, x0:x1] = src[y0 - box.y0: y1 - box.y0, x0 - box.x0: x1 - box.x0]


def network_input(gray01: np.ndarray, box: Box, size: int) -> np.ndarray:
    """The normalised, resized crop the network sees (float32, size x size)."""
    return normalise(resize(crop(gray01, box), size))
