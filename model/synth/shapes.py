"""Geometry of one embryo: blastomeres, fragments and the label mask.

Coordinates are pixels of the embryo's own square canvas (the zona centred
at ``(c, c)``). Polygons are drawn with cv2's sub-pixel ``shift`` so small
fragments (3 px across) still come out round-ish instead of as squares.
The mask is built here, and the fragment loop watches it grow, so the
realised fragment fraction is measured on the very pixels that are returned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

SHIFT = 4  # cv2 sub-pixel bits
ONE = 1 << SHIFT


@dataclass
class Blob:
    x: float
    y: float
    r: float
    poly: np.ndarray  # int32 (N, 2), fixed-point with SHIFT bits
    z: int = 0


_K = np.array([2.0, 3.0, 4.0, 5.0])
_ANGLES: dict[int, tuple[np.ndarray, ...]] = {}


def _angles(n: int) -> tuple[np.ndarray, ...]:
    if n not in _ANGLES:
        t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
        kt = _K[:, None] * t[None, :]
        _ANGLES[n] = (np.cos(t), np.sin(t), np.cos(kt), np.sin(kt))
    return _ANGLES[n]


def blob_polygon(
    rng: np.random.Generator,
    x: float,
    y: float,
    r: float,
    aspect: float = 1.0,
    roughness: float = 0.03,
    n: int = 48,
) -> np.ndarray:
    """A closed, gently wobbling ellipse (cells and fragments are never perfect circles).

    Hundreds are drawn per image, so the harmonics come from cached tables
    and one draw of 9 numbers.
    """
    ct, st, ck, sk = _angles(n)
    z = rng.random(9)
    # Low harmonics only: membranes bend, they do not zig-zag.
    amp = roughness / _K * (z[:4] - 0.5) * 3.4
    ph = z[4:8] * (2 * math.pi)
    rad = 1.0 + (amp * np.cos(ph)) @ ck - (amp * np.sin(ph)) @ sk
    a = z[8] * math.pi
    ca, sa = math.cos(a), math.sin(a)
    ex, ey = (r * ONE) * rad * ct, (r * aspect * ONE) * rad * st
    out = np.empty((n, 2))
    out[:, 0] = ex * ca - ey * sa + x * ONE
    out[:, 1] = ex * sa + ey * ca + y * ONE
    return np.rint(out).astype(np.int32)


def fill(img: np.ndarray, poly: np.ndarray, value) -> None:
    cv2.fillPoly(img, [poly], value, lineType=cv2.LINE_8, shift=SHIFT)


def layout_cells(
    rng: np.random.Generator, n: int, r_inner: float, c: float, volume: float
) -> list[Blob]:
    """Place n blastomeres inside the zona.

    Cells conserve the zygote's volume, so each is r1 / n^(1/3) across and
    their projected area exceeds the disc for n >= 4: they must overlap, as in
    real 4- to 8-cell embryos. ``volume`` (<= 1) is what fragmentation left.
    """
    r1 = r_inner * rng.uniform(0.78, 0.9) * volume ** (1 / 3)
    sizes = r1 / n ** (1 / 3) * rng.uniform(0.85, 1.12, n)
    if n in (3, 5, 6, 7) and rng.random() < 0.5:
        sizes[0] *= 1.15  # uneven cleavage: one cell lags behind
    ang = rng.uniform(0, 2 * np.pi, n)
    rad = np.sqrt(rng.uniform(0, 1, n)) * np.maximum(r_inner - sizes, 1)
    pos = np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)
    # A few rounds of pairwise repulsion: cells press on each other and on the zona.
    for _ in range(25):
        d = pos[:, None, :] - pos[None, :, :]
        dist = np.sqrt((d**2).sum(-1)) + np.eye(n)
        want = 0.78 * (sizes[:, None] + sizes[None, :])
        push = np.clip(want - dist, 0, None) * (1 - np.eye(n))
        pos += 0.25 * (push[..., None] * d / dist[..., None]).sum(1)
        lim = np.maximum(r_inner - 0.92 * sizes, 1.0)
        norm = np.sqrt((pos**2).sum(1))
        over = norm > lim
        pos[over] *= (lim[over] / norm[over])[:, None]
    order = rng.permutation(n)
    cells = []
    for z, i in enumerate(order):
        x, y = c + pos[i, 0], c + pos[i, 1]
        poly = blob_polygon(rng, x, y, sizes[i], rng.uniform(0.84, 1.0), rng.uniform(0.02, 0.06), 72)
        cells.append(Blob(x, y, float(sizes[i]), poly, z))
    return cells


def _fragment_centre(rng, mode, clusters, cells, r_inner, c, r):
    """Where the next fragment goes: near the zona, in a cluster, or anywhere."""
    room = max(r_inner - r - 1.5, 1.0)
    if mode == "cluster" and clusters:
        cx, cy, spread = clusters[rng.integers(len(clusters))]
        x, y = rng.normal(cx, spread), rng.normal(cy, spread)
    elif mode == "rim":
        a = rng.uniform(0, 2 * np.pi)
        d = room - abs(rng.normal(0, 0.12 * r_inner))
        x, y = c + d * np.cos(a), c + d * np.sin(a)
    elif mode == "between" and len(cells) > 1:
        i, j = rng.choice(len(cells), 2, replace=False)
        t = rng.uniform(0.3, 0.7)
        x = cells[i].x * t + cells[j].x * (1 - t) + rng.normal(0, 0.1 * r_inner)
        y = cells[i].y * t + cells[j].y * (1 - t) + rng.normal(0, 0.1 * r_inner)
    else:
        a, d = rng.uniform(0, 2 * np.pi), room * np.sqrt(rng.uniform())
        x, y = c + d * np.cos(a), c + d * np.sin(a)
    d = math.hypot(x - c, y - c)
    if d > room:  # pull back inside the zona
        x, y = c + (x - c) * room / d, c + (y - c) * room / d
    return x, y


def add_fragments(
    rng: np.random.Generator,
    mask: np.ndarray,
    disc: np.ndarray,
    cells: list[Blob],
    r_inner: float,
    c: float,
    target: float,
    scale: float,
) -> list[Blob]:
    """Draw fragments (class 2) into ``mask`` until fragment/(cell+fragment) reaches target.

    Fragments are 3-40 px across at 800 px (``scale`` = size/800). Each new
    fragment is sized to the remaining deficit, so the last one cannot
    overshoot the target's grade.
    """
    frags: list[Blob] = []
    if target <= 0:
        return frags
    n_cell = int(np.count_nonzero(mask == 1))
    n_frag = 0
    r_min, r_max = max(1.5 * scale, 1.0), max(20.0 * scale, 2.0)
    # Heavily fragmented embryos have larger pieces; light ones a few small.
    r_typ = scale * (3.5 + 34.0 * min(target, 0.5) * rng.uniform(0.6, 1.3))
    weights = rng.dirichlet([1.0, 1.0, 0.7, 0.6])  # rim, cluster, between, anywhere
    cum = np.cumsum(weights)[:-1]
    modes = ("rim", "cluster", "between", "anywhere")
    clusters = []
    for _ in range(rng.integers(1, 4)):
        x, y = _fragment_centre(rng, "rim", [], cells, r_inner * 0.95, c, 0)
        clusters.append((x, y, rng.uniform(0.05, 0.2) * r_inner))
    tol = 0.0015
    h, w = mask.shape
    edge = r_inner - 1.0
    for _ in range(2000):
        total = n_cell + n_frag
        if total == 0 or n_frag / total >= target - tol:
            break
        deficit = (target * total - n_frag) / max(1.0 - target, 0.5)
        r_cap = math.sqrt(max(deficit, 1.0) / math.pi) * 1.05
        r = min(max(rng.lognormal(math.log(r_typ), 0.45), r_min), r_max)
        r = max(min(r, r_cap), r_min)
        mode = modes[int(np.searchsorted(cum, rng.random()))]
        x, y = _fragment_centre(rng, mode, clusters, cells, r_inner, c, r)
        poly = blob_polygon(rng, x, y, r, 0.75 + 0.25 * rng.random(), 0.08, 20 if r < 6 * scale else 32)
        x0, y0 = max(int(x - r - 3), 0), max(int(y - r - 3), 0)
        x1, y1 = min(int(x + r + 4), w), min(int(y + r + 4), h)
        if x1 <= x0 or y1 <= y0:
            continue
        win = mask[y0:y1, x0:x1]
        n1, n0 = np.count_nonzero(win == 1), np.count_nonzero(win == 0)
        near_edge = math.hypot(x - c, y - c) + 1.3 * r > edge
        before = win.copy() if near_edge else None
        fill(win, poly - np.array([x0 * ONE, y0 * ONE], np.int32), 2)
        if before is not None:  # the zona bounds the fragment
            out = ~disc[y0:y1, x0:x1]
            win[out] = before[out]
        n_cell += int(np.count_nonzero(win == 1)) - n1
        n_frag += n0 - int(np.count_nonzero(win == 0)) + n1 - int(np.count_nonzero(win == 1))
        frags.append(Blob(x, y, r, poly, len(frags)))
    return frags
