"""Rasterising edit gestures into local boolean masks. Qt-free.

Every function returns ``(BBox, hit)``: the box the gesture can touch, clipped to
the image, and a boolean array of that box's shape. Nothing here ever looks at
more of the image than the gesture's own box (or, for connected components, a
window grown only until the component is closed): on a 4096x4096 mask a
whole-image pass costs tens of milliseconds, which is what made painting
stutter in other tools.

Coordinates are (row, col) floats in pixel-index space: the centre of pixel
``mask[r, c]`` is at ``(r, c)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class BBox:
    """Half-open box ``[y0, y1) x [x0, x1)`` in mask rows and columns."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0

    @property
    def empty(self) -> bool:
        return self.y1 <= self.y0 or self.x1 <= self.x0

    def union(self, other: BBox | None) -> BBox:
        if other is None:
            return self
        return BBox(min(self.y0, other.y0), max(self.y1, other.y1),
                    min(self.x0, other.x0), max(self.x1, other.x1))

    def local(self, inner: BBox) -> tuple[slice, slice]:
        """Slices of ``inner`` relative to this box (``inner`` must lie inside it)."""
        return (slice(inner.y0 - self.y0, inner.y1 - self.y0),
                slice(inner.x0 - self.x0, inner.x1 - self.x0))

    @staticmethod
    def clipped(y0: float, y1: float, x0: float, x1: float, shape: tuple[int, int]) -> BBox:
        h, w = shape[:2]
        return BBox(max(0, int(np.floor(y0))), min(h, int(np.ceil(y1))),
                    max(0, int(np.floor(x0))), min(w, int(np.ceil(x1))))


def segment_disk(shape: tuple[int, int], p0: tuple[float, float], p1: tuple[float, float],
                 radius: float) -> tuple[BBox, np.ndarray] | None:
    """Pixels within ``radius`` of the segment p0-p1: a round brush swept along it.

    Exact distance to the segment rather than stamping discs at steps, so a fast
    mouse drag leaves no gaps and costs one vectorised pass over the box.
    """
    r = max(float(radius), 0.0)
    (ya, xa), (yb, xb) = (float(p0[0]), float(p0[1])), (float(p1[0]), float(p1[1]))
    box = BBox.clipped(min(ya, yb) - r, max(ya, yb) + r + 1, min(xa, xb) - r, max(xa, xb) + r + 1,
                       shape)
    if box.empty:
        return None
    ys = np.arange(box.y0, box.y1, dtype=np.float32)[:, None] - np.float32(ya)
    xs = np.arange(box.x0, box.x1, dtype=np.float32)[None, :] - np.float32(xa)
    dy, dx = np.float32(yb - ya), np.float32(xb - xa)
    seg2 = dy * dy + dx * dx
    if seg2 > 0:
        t = np.clip((ys * dy + xs * dx) / seg2, 0.0, 1.0)
        ys = ys - t * dy
        xs = xs - t * dx
    # +0.25 px^2 so radius 0 still paints the pixel under the cursor after rounding.
    hit = ys * ys + xs * xs <= np.float32(r * r + 0.25)
    return box, hit


def polygon(shape: tuple[int, int], points) -> tuple[BBox, np.ndarray] | None:
    """Filled polygon of (row, col) vertices, rasterised only inside its box."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return None
    box = BBox.clipped(pts[:, 0].min(), pts[:, 0].max() + 1, pts[:, 1].min(), pts[:, 1].max() + 1,
                       shape)
    if box.empty:
        return None
    # cv2 wants (x, y) int32; 4 bits of sub-pixel shift keep vertices where the user clicked.
    xy = np.round((pts[:, ::-1] - (box.x0, box.y0)) * 16).astype(np.int32)
    buf = np.zeros(box.shape, np.uint8)
    cv2.fillPoly(buf, [xy], 1, lineType=cv2.LINE_8, shift=4)
    return box, buf.astype(bool)


def component(mask: np.ndarray, row: int, col: int, connectivity: int = 4,
              start_half: int = 64) -> tuple[BBox, np.ndarray] | None:
    """The connected region of equal class containing (row, col).

    Flood-fills a window around the click and doubles the window while the
    region touches a window edge that is not the image edge, so deleting a
    small fragment costs a window of about its own size, never a whole-image
    ``connectedComponents``.
    """
    h, w = mask.shape
    row, col = int(row), int(col)
    if not (0 <= row < h and 0 <= col < w):
        return None
    half = max(int(start_half), 8)
    flags = connectivity | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    while True:
        win = BBox.clipped(row - half, row + half + 1, col - half, col + half + 1, mask.shape)
        sub = np.ascontiguousarray(mask[win.slices])
        ff = np.zeros((win.shape[0] + 2, win.shape[1] + 2), np.uint8)
        _, _, _, (rx, ry, rw, rh) = cv2.floodFill(sub, ff, (col - win.x0, row - win.y0), 0, 0, 0,
                                                  flags)
        touches = ((rx == 0 and win.x0 > 0) or (ry == 0 and win.y0 > 0)
                   or (rx + rw == win.shape[1] and win.x1 < w)
                   or (ry + rh == win.shape[0] and win.y1 < h))
        if not touches:
            box = BBox(win.y0 + ry, win.y0 + ry + rh, win.x0 + rx, win.x0 + rx + rw)
            return box, ff[1 + ry:1 + ry + rh, 1 + rx:1 + rx + rw].astype(bool)
        half *= 2
