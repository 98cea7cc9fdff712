"""What the synthetic generator borrows from real labelled frames (copy-paste synthesis).

The procedural look alone taught the network that any granular patch is a
fragment: its cells were smooth noise and its fragments were the only other
textured things. Real cytoplasm is coarsely granular, holds the crossing
membranes of overlapping blastomeres, and is still "blastomere"; cumulus and
debris outside the zona are still "background". So the bank keeps, cut from
real frames by their expert masks:

- cytoplasm tiles: the relative texture (image / local mean - 1) of windows
  lying wholly inside a blastomere (eroded, so its outline is not in it, but
  the membranes of cells crossing above it are);
- fragments: each labelled fragment with its own mask and a thin ring of what
  surrounds it, as relative texture (Ghiasi et al. 2021, copy-paste);
- outside tiles: the most textured windows of the background well away from
  the embryo (cumulus clumps, debris, the well's rim), label 0.

Everything is held as float32 arrays at the real frame's scale (an 800 x 800
time-lapse frame, the generator's ``size=800``) and resized on use. Built from
arrays only: reading files is the caller's business (``app.core.datasets``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from model import preprocess as pp

TILE = 64  # cytoplasm tile side at 800 px scale: about a third of a 4-cell blastomere
OUT_TILE = 96
_MAX_TILES_PER_FRAME = 300
_MIN_FRAGMENT_PX = 12


@dataclass
class Fragment:
    rel: np.ndarray  # float32 relative texture of the padded box
    mask: np.ndarray  # bool, the fragment itself inside that box


@dataclass
class RealBank:
    cytoplasm: list[np.ndarray] = field(default_factory=list)
    fragments: list[Fragment] = field(default_factory=list)
    outside: list[np.ndarray] = field(default_factory=list)
    sources: int = 0
    _spread: float | None = field(default=None, repr=False)

    def __bool__(self) -> bool:
        return bool(self.cytoplasm)

    @classmethod
    def from_frames(cls, frames: Iterable[tuple[np.ndarray, np.ndarray]], seed: int = 0) -> RealBank:
        """``frames``: (image, mask) pairs; image any dtype/channels, mask 0/1/2 at its size."""
        bank = cls()
        rng = np.random.default_rng(seed)
        for image, mask in frames:
            bank._add(image, np.asarray(mask), rng)
        return bank

    def _add(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> None:
        g = pp.to_gray01(image)
        if g.shape != mask.shape or not (mask == 1).any():
            return
        self.sources += 1
        rel = relative_texture(g)
        ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
        cyto = cv2.erode((mask == 1).astype(np.uint8), ker)
        # Small frames or cells (low-resolution crops): half-size windows rather than none.
        self.cytoplasm += (_tiles_inside(rel, cyto, TILE, 0.97, rng, _MAX_TILES_PER_FRAME)
                           or _tiles_inside(rel, cyto, TILE // 2, 0.97, rng, _MAX_TILES_PER_FRAME))

        n, labels, stats, _ = cv2.connectedComponentsWithStats((mask == 2).astype(np.uint8), connectivity=8)
        for k in range(1, n):
            if stats[k, cv2.CC_STAT_AREA] < _MIN_FRAGMENT_PX:
                continue
            x, y, w, h = (int(v) for v in stats[k, :4])
            pad = 3
            x0, y0 = max(x - pad, 0), max(y - pad, 0)
            x1, y1 = min(x + w + pad, g.shape[1]), min(y + h + pad, g.shape[0])
            self.fragments.append(Fragment(rel[y0:y1, x0:x1].copy(), labels[y0:y1, x0:x1] == k))

        # Outside: far from anything labelled (the zona and its halo are unlabelled, so keep clear).
        reach = cv2.dilate((mask > 0).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (121, 121)))
        tiles = _tiles_inside(rel, 1 - reach, OUT_TILE, 1.0, rng, 400)
        if tiles:
            spread = np.array([t.std() for t in tiles])
            keep = spread >= max(np.quantile(spread, 0.8), 0.03)  # clumps and rims, not empty medium
            self.outside += [t for t, k in zip(tiles, keep) if k]

    # -- sampling ----------------------------------------------------------------------------
    def cytoplasm_field(self, rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
        """A relative-texture field of ``shape`` quilted from real cytoplasm tiles (Hann-blended)."""
        h, w = shape
        t = max(8, int(round(TILE * scale * rng.uniform(0.8, 1.25))))
        step = t // 2
        win = hann2d(t)
        acc = np.zeros((h + t, w + t), np.float32)
        wsum = np.full((h + t, w + t), 1e-6, np.float32)
        for y in range(0, h + 1, step):
            for x in range(0, w + 1, step):
                tile = _orient(rng, self.cytoplasm[int(rng.integers(len(self.cytoplasm)))])
                if tile.shape[0] != t:
                    tile = cv2.resize(tile, (t, t), interpolation=cv2.INTER_AREA if tile.shape[0] > t
                                      else cv2.INTER_LINEAR)
                acc[y:y + t, x:x + t] += tile * win
                wsum[y:y + t, x:x + t] += win
        # Blending overlapping tiles averages their texture down: restore the tiles' spread.
        f = acc[t // 2:t // 2 + h, t // 2:t // 2 + w] / wsum[t // 2:t // 2 + h, t // 2:t // 2 + w]
        f -= float(f.mean())
        f *= self.cytoplasm_spread() / max(float(f.std()), 1e-6)
        return f

    def cytoplasm_spread(self) -> float:
        """The typical std of a real cytoplasm tile (the quilted field's target), computed once."""
        if self._spread is None:
            self._spread = float(np.median([c.std() for c in self.cytoplasm[:64]]))
        return self._spread

    def fragment(self, rng: np.random.Generator, scale: float) -> Fragment:
        fr = self.fragments[int(rng.integers(len(self.fragments)))]
        k = int(rng.integers(8))
        rel, m = _orient(rng, fr.rel, k), _orient(rng, fr.mask.astype(np.uint8), k)
        z = scale * rng.uniform(0.75, 1.3)
        if abs(z - 1) > 0.05:
            size = (max(3, int(round(rel.shape[1] * z))), max(3, int(round(rel.shape[0] * z))))
            rel = cv2.resize(rel, size, interpolation=cv2.INTER_LINEAR)
            m = cv2.resize(m, size, interpolation=cv2.INTER_NEAREST)
        return Fragment(rel, m.astype(bool))

    def outside_tile(self, rng: np.random.Generator, scale: float) -> np.ndarray:
        tile = _orient(rng, self.outside[int(rng.integers(len(self.outside)))])
        t = max(8, int(round(OUT_TILE * scale * rng.uniform(0.8, 1.2))))
        return cv2.resize(tile, (t, t), interpolation=cv2.INTER_LINEAR)


def relative_texture(gray01: np.ndarray) -> np.ndarray:
    """Image / its local mean - 1: texture free of illumination and of the frame's level."""
    level = cv2.GaussianBlur(gray01, (0, 0), 10.0)
    return (gray01 / np.maximum(level, 0.02) - 1.0).astype(np.float32)


def hann2d(t: int) -> np.ndarray:
    """A t x t raised-cosine window, zero-free (blends pasted or quilted tiles seamlessly)."""
    w = np.hanning(t + 2)[1:-1]
    return np.outer(w, w).astype(np.float32)


def _orient(rng: np.random.Generator, a: np.ndarray, k: int | None = None) -> np.ndarray:
    """One of the 8 flips/rotations (``k`` given: that one, so an image and its mask agree)."""
    k = int(rng.integers(8)) if k is None else k
    a = np.rot90(a, k % 4)
    return np.ascontiguousarray(a[:, ::-1] if k >= 4 else a)


def _tiles_inside(rel: np.ndarray, region: np.ndarray, t: int, cover: float,
                  rng: np.random.Generator, limit: int) -> list[np.ndarray]:
    """Windows of side t whose share of ``region`` pixels is at least ``cover``."""
    h, w = region.shape
    if h < t or w < t:
        return []
    # Share of the region in every t x t window, from one box filter.
    share = cv2.boxFilter(region.astype(np.float32), -1, (t, t), normalize=True,
                          borderType=cv2.BORDER_CONSTANT)
    half = t // 2
    ys, xs = np.nonzero(share[half:h - t + half + 1:8, half:w - t + half + 1:8] >= cover - 1e-6)
    if len(ys) == 0:
        return []
    pick = rng.permutation(len(ys))[:limit]
    return [rel[y * 8:y * 8 + t, x * 8:x * 8 + t].copy() for y, x in zip(ys[pick], xs[pick])]


__all__ = ["Fragment", "OUT_TILE", "RealBank", "TILE", "hann2d", "relative_texture"]
