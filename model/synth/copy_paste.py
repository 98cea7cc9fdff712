"""Paste real fragments (label 2) and real outside texture (label 0) into a synthetic frame.

Works on the frame's transmission minus one (``dT``), its optical height and
its mask before the microscope is applied, so pasted pieces get the same
defocus, noise and colour as the rest. A real fragment keeps its own edge
and texture; its level follows the spot it lands on (relative texture times
the local mean), which is how a fragment looks whether it lies in the
perivitelline space or over a blastomere.
"""

from __future__ import annotations

import cv2
import numpy as np

from model.synth.real_bank import RealBank, hann2d


def paste_fragments(rng: np.random.Generator, bank: RealBank, dT: np.ndarray, H: np.ndarray,
                    mask: np.ndarray, centre: tuple[float, float], r_inner: float, scale: float,
                    target: float) -> int:
    """Paste real fragments inside the zona until the mask's fraction reaches ``target``.

    Returns how many were pasted. Most land where nothing is labelled (the
    perivitelline space and gaps between cells), some over blastomeres, as
    the annotators drew them.
    """
    if not bank.fragments:
        return 0
    h, w = mask.shape
    cx, cy = centre
    cyto = int(np.count_nonzero(mask == 1))
    frag = int(np.count_nonzero(mask == 2))
    pasted = 0
    for _ in range(60):
        if cyto + frag == 0 or frag / (cyto + frag) >= target:
            break
        fr = bank.fragment(rng, scale)
        fh, fw = fr.mask.shape
        yy, xx = np.nonzero(fr.mask)
        free = rng.random() < 0.7
        for _try in range(12):
            a, d = rng.uniform(0, 2 * np.pi), r_inner * np.sqrt(rng.uniform(0.05, 1.0))
            x0, y0 = int(cx + d * np.cos(a) - fw / 2), int(cy + d * np.sin(a) - fh / 2)
            if x0 < 0 or y0 < 0 or x0 + fw > w or y0 + fh > h:
                continue
            if np.hypot(xx + x0 - cx, yy + y0 - cy).max() > r_inner - 1.5:
                continue  # nothing labelled may lie outside the zona's inner edge
            under = mask[y0:y0 + fh, x0:x0 + fw][fr.mask]
            if free and np.count_nonzero(under) > 0.3 * under.size:
                continue
            break
        else:
            continue
        sl = (slice(y0, y0 + fh), slice(x0, x0 + fw))
        m = fr.mask
        before = mask[sl][m]
        cyto -= int(np.count_nonzero(before == 1))
        frag += int(np.count_nonzero(before != 2))
        # Feathered alpha over the fragment and its own rim (the patch's padding).
        alpha = cv2.GaussianBlur(cv2.dilate(m.astype(np.float32), np.ones((3, 3), np.uint8)),
                                 (0, 0), 0.8)
        t = dT[sl] + 1.0
        local = float(t.mean())
        t_new = t * (1 - alpha) + alpha * local * (1.0 + fr.rel)
        dT[sl] = t_new - 1.0
        H[sl] = np.maximum(H[sl], (1.0 + 0.3 * rng.random()) * cv2.GaussianBlur(m.astype(np.float32), (0, 0), 1.0))
        mask[sl][m] = 2
        pasted += 1
    return pasted


def paste_outside(rng: np.random.Generator, bank: RealBank, dT: np.ndarray, H: np.ndarray,
                  centre: tuple[float, float], r_outer: float, scale: float,
                  n: int) -> list[tuple[float, float, float]]:
    """Paste ``n`` real background tiles (cumulus, debris) clear of the zona; labels stay 0.

    Returns each tile's (x, y, half side): the caller's optics must cover them.
    """
    if not bank.outside:
        return []
    h, w = dT.shape
    cx, cy = centre
    pasted = []
    for _ in range(n):
        tile = bank.outside_tile(rng, scale)
        t = tile.shape[0]
        win = hann2d(t)
        for _try in range(10):
            a = rng.uniform(0, 2 * np.pi)
            d = r_outer + (rng.uniform(4, 120) * scale) + t * 0.71
            x0, y0 = int(cx + d * np.cos(a) - t / 2), int(cy + d * np.sin(a) - t / 2)
            if x0 < 0 or y0 < 0 or x0 + t > w or y0 + t > h:
                continue
            # The window's nearest point to the centre stays outside the zona (and its halo).
            nx, ny = np.clip(cx, x0, x0 + t), np.clip(cy, y0, y0 + t)
            if np.hypot(nx - cx, ny - cy) < r_outer + 6 * scale:
                continue
            sl = (slice(y0, y0 + t), slice(x0, x0 + t))
            dT[sl] = dT[sl] * (1 - win) + win * tile
            H[sl] += win * np.clip(np.abs(tile) * 4, 0, 1)
            pasted.append((x0 + t / 2, y0 + t / 2, t / 2))
            break
    return pasted


def draw_droplets(rng: np.random.Generator, dT: np.ndarray, H: np.ndarray, centre: tuple[float, float],
                  r_outer: float, scale: float, n: int) -> list[tuple[float, float, float]]:
    """Oil droplets of the overlay: smooth round discs, a shade brighter, with a dark rim; label 0.

    Returns each droplet's (x, y, r + rim).
    """
    h, w = dT.shape
    cx, cy = centre
    drawn = []
    for _ in range(n):
        r = rng.uniform(6, 30) * scale
        a = rng.uniform(0, 2 * np.pi)
        d = r_outer + r + rng.uniform(8, 200) * scale
        x, y = cx + d * np.cos(a), cy + d * np.sin(a)
        if not (r < x < w - r and r < y < h - r):
            continue
        x0, y0 = int(x - r - 3), int(y - r - 3)
        x1, y1 = int(x + r + 4), int(y + r + 4)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        rr = np.hypot(xx - x, yy - y)
        inside = np.clip(r - rr + 0.5, 0, 1)
        rim = np.exp(-((rr - r) / max(1.0, 1.2 * scale)) ** 2)
        dT[y0:y1, x0:x1] += inside * rng.uniform(0.01, 0.06) - rim * rng.uniform(0.1, 0.35)
        H[y0:y1, x0:x1] += inside * rng.uniform(0.2, 0.6)
        drawn.append((float(x), float(y), float(r + 4)))
    return drawn


__all__ = ["draw_droplets", "paste_fragments", "paste_outside"]
