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
_TABLES: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(8, n) harmonic table [cos kt; sin kt] and (n, 2) unit circle [cos t, sin t]."""
    if n not in _TABLES:
        t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
        kt = _K[:, None] * t[None, :]
        _TABLES[n] = (np.concatenate([np.cos(kt), np.sin(kt)]), np.stack([np.cos(t), np.sin(t)], 1))
    return _TABLES[n]


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

    Hundreds are drawn per image, so it is a handful of numpy calls: cached
    harmonic tables, one draw of 9 numbers, one 2x2 transform.
    """
    harm, unit = _tables(n)
    z = rng.random(9)
    # Low harmonics only: membranes bend, they do not zig-zag.
    amp = (roughness * 3.4 / _K) * (z[:4] - 0.5)
    ph = z[4:8] * (2 * math.pi)
    coef = np.concatenate([amp * np.cos(ph), -amp * np.sin(ph)])
    rad = coef @ harm
    rad += 1.0
    a = z[8] * math.pi
    ca, sa = math.cos(a) * ONE * r, math.sin(a) * ONE * r
    ry = aspect
    # Rotate the ellipse (r, r*aspect) by a, in fixed point: [x y] = [cos t, sin t] * rad @ M.
    m = np.array([[ca, sa], [-sa * ry, ca * ry]])
    out = (unit * rad[:, None]) @ m
    out += (x * ONE, y * ONE)
    return np.rint(out).astype(np.int32)


def unit_blobs(rng: np.random.Generator, count: int, roughness: float, n: int,
               aspect: tuple[float, float]) -> np.ndarray:
    """``count`` blob outlines of radius 1 at the origin, (count, n, 2) float, in fixed point.

    The same shapes as ``blob_polygon``, drawn in one batch: the fragment loop
    draws dozens per embryo, and only their size and place depend on the loop.
    """
    harm, unit = _tables(n)
    z = rng.random((count, 10))
    amp = (roughness * 3.4 / _K) * (z[:, :4] - 0.5)
    ph = z[:, 4:8] * (2 * math.pi)
    rad = np.concatenate([amp * np.cos(ph), -amp * np.sin(ph)], 1) @ harm + 1.0  # (count, n)
    a = z[:, 8] * math.pi
    ry = aspect[0] + (aspect[1] - aspect[0]) * z[:, 9]
    ca, sa = np.cos(a) * ONE, np.sin(a) * ONE
    px, py = unit[None, :, 0] * rad, unit[None, :, 1] * rad
    out = np.empty((count, n, 2))
    out[..., 0] = px * ca[:, None] - py * (sa * ry)[:, None]
    out[..., 1] = px * sa[:, None] + py * (ca * ry)[:, None]
    return out


def place(unit: np.ndarray, x: float, y: float, r: float) -> np.ndarray:
    """A unit outline scaled by r and moved to (x, y): an int32 fixed-point polygon."""
    out = unit * r
    out += (x * ONE, y * ONE)
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
    block = 32
    small = big = np.empty((0, 0, 2))
    for i in range(2000):
        if i % block == 0:  # outlines come in batches; small fragments need fewer vertices
            small = unit_blobs(rng, block, 0.08, 20, (0.75, 1.0))
            big = unit_blobs(rng, block, 0.08, 32, (0.75, 1.0))
        total = n_cell + n_frag
        if total == 0 or n_frag / total >= target - tol:
            break
        deficit = (target * total - n_frag) / max(1.0 - target, 0.5)
        r_cap = math.sqrt(max(deficit, 1.0) / math.pi) * 1.05
        r = min(max(rng.lognormal(math.log(r_typ), 0.45), r_min), r_max)
        r = max(min(r, r_cap), r_min)
        mode = modes[int(np.searchsorted(cum, rng.random()))]
        x, y = _fragment_centre(rng, mode, clusters, cells, r_inner, c, r)
        poly = place((small if r < 6 * scale else big)[i % block], x, y, r)
        x0, y0 = max(int(x - r - 3), 0), max(int(y - r - 3), 0)
        x1, y1 = min(int(x + r + 4), w), min(int(y + r + 4), h)
        if x1 <= x0 or y1 <= y0:
            continue
        win = mask[y0:y1, x0:x1]
        counts = np.bincount(win.ravel(), minlength=3)
        near_edge = math.hypot(x - c, y - c) + 1.3 * r > edge
        before = win.copy() if near_edge else None
        cv2.fillPoly(win, [poly], 2, cv2.LINE_8, SHIFT, (-x0 * ONE, -y0 * ONE))
        if before is not None:  # the zona bounds the fragment
            out = ~disc[y0:y1, x0:x1]
            win[out] = before[out]
        n_cell, n_frag = (n_cell, n_frag) + (np.bincount(win.ravel(), minlength=3) - counts)[1:]
        frags.append(Blob(x, y, r, poly, len(frags)))
    return frags
