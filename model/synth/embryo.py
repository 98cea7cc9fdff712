"""Render one embryo on its own square canvas: transmission, height and labels.

The image model is physical in spirit: the frame is illumination x
transmission, and every structure also has an optical height. The
microscope (``microscope.py``) turns height into edge contrast: a
directional derivative for Hoffman/DIC relief, a Laplacian for the dark
line + bright halo of slightly defocused bright field. Membranes get an
explicit thin dark line as well, because real blastomere edges show one at
every focus.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from model.synth import shapes, texture


@dataclass
class Embryo:
    c: float  # centre of the canvas (zona centre), px
    side: int
    r_outer: float
    r_inner: float
    cells: list[shapes.Blob]
    frags: list[shapes.Blob]
    mask: np.ndarray  # uint8 side x side, 0/1/2
    disc: np.ndarray  # bool, inside the zona's inner edge
    meta: dict = field(default_factory=dict)


def build(
    rng: np.random.Generator, r_outer: float, zona: float, n_cells: int, target: float, scale: float
) -> Embryo:
    r_inner = r_outer - zona
    margin = int(14 * scale) + 6
    side = int(np.ceil(2 * r_outer)) + 2 * margin
    c = side / 2.0
    # Fragmented cytoplasm is lost cell volume: shrink the cells accordingly.
    volume = max(1.0 - 0.9 * target, 0.45) * rng.uniform(0.9, 1.05)
    cells = shapes.layout_cells(rng, n_cells, r_inner, c, min(volume, 1.0))
    mask = np.zeros((side, side), np.uint8)
    for cell in cells:
        shapes.fill(mask, cell.poly, 1)
    # Cells pressed against the zona flatten there: nothing labelled lies outside its inner edge.
    disc = texture.radial_distance((side, side), c, c) <= r_inner - 0.5
    mask[~disc] = 0
    frags = shapes.add_fragments(rng, mask, disc, cells, r_inner, c, target, scale)
    return Embryo(c, side, r_outer, r_inner, cells, frags, mask, disc)


def _window(blob: shapes.Blob, pad: float, side: int) -> tuple[int, int, int, int]:
    r = blob.r * 1.25 + pad
    return (
        max(int(blob.x - r), 0),
        max(int(blob.y - r), 0),
        min(int(blob.x + r) + 2, side),
        min(int(blob.y + r) + 2, side),
    )


def render(rng: np.random.Generator, emb: Embryo, p: dict, scale: float,
           cell_field: np.ndarray | None = None):
    """Transmission (≈1 = clear) and optical height of the embryo canvas.

    ``p`` holds the look: levels relative to the clear medium, granule
    contrast and size, line darkness. Returns (T, H, alpha) where alpha is
    the embryo's footprint (1 inside the zona's outer edge) so the caller
    can blend the canvas softly into the frame. ``cell_field`` (canvas-sized
    relative texture, e.g. quilted from real cytoplasm) replaces the procedural
    granules inside cells; ``p["field_height"]`` also lifts it into the optical
    height, so that relief optics shade its granules as they shade real ones.
    """
    side, c = emb.side, emb.c
    dist = texture.radial_distance((side, side), c, c, ry=1.0)
    soft = max(1.0, p.get("zona_soft", 1.0) * scale)
    ring_out = np.clip((emb.r_outer - dist) / soft + 0.5, 0, 1)
    ring_in = np.clip(dist - emb.r_inner + 0.5, 0, 1)
    zona = ring_out * ring_in
    inner = ring_out - zona

    # One granule field serves cytoplasm and zona (they never overlap); the zona
    # adds a coarser mottle and the perivitelline space a faint one of its own.
    gran = texture.granular(rng, (side, side), p["grain"], p["grain"] * 3.0, p["grain_mix"])
    coarse = texture.smooth_noise(rng, (side, side), 4.0 * scale)
    zpos = np.clip((dist - emb.r_inner) / max(emb.r_outer - emb.r_inner, 1), 0, 1)
    zlevel = p["zona_level"] + p["zona_grad"] * (zpos - 0.5)
    ztex = gran + 0.4 * coarse
    T = 1.0 + zona * (zlevel - 1.0 + p["zona_tex"] * ztex) + inner * (p["pv_level"] - 1.0 + 0.02 * coarse)
    H = zona * p["zona_height"]
    lines = np.zeros((side, side), np.float32)
    lw = max(1, int(round(p["line_width"] * scale)))

    keep = p["occlusion_keep"]
    for z, cell in enumerate(emb.cells):
        x0, y0, x1, y1 = _window(cell, 4 * scale, side)
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        shapes.fill(m, cell.poly - np.array([x0 * 16, y0 * 16], np.int32), 1)
        inside = m.view(bool) & emb.disc[y0:y1, x0:x1]
        # Dense over the cell's window (masked writes): cheaper than gathering its pixels.
        dx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(cell.x)
        dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(cell.y)
        inv_r = np.float32(1.0 / max(cell.r, 1))
        level = p["cell_level"] * rng.uniform(0.96, 1.04)
        # Light falls off towards one side of each cell (it is a lens).
        gx, gy = rng.normal(0, 0.04, 2)
        tw, hw, lw_ = T[y0:y1, x0:x1], H[y0:y1, x0:x1], lines[y0:y1, x0:x1]
        own = (np.float32(gx) * inv_r) * dx + (np.float32(gy) * inv_r) * dy
        own += np.float32(level)
        if cell_field is None:
            own += np.float32(p["cell_tex"]) * gran[y0:y1, x0:x1]
        else:
            own += np.float32(level) * cell_field[y0:y1, x0:x1]
        # The cell on top occludes, but cells are translucent: some of what lies beneath shows.
        own *= np.float32(1 - keep)
        own += np.float32(keep) * tw
        np.copyto(tw, own, where=inside)
        d2 = (dx * dx + dy * dy) * (inv_r * inv_r)
        dome = np.sqrt(np.clip(1 - d2, 0, 1, out=d2), out=d2)
        dome *= np.float32(p["dome"])
        dome += np.float32(1.0 + 0.12 * z)
        if cell_field is not None and p.get("field_height"):
            dome += np.float32(p["field_height"]) * cell_field[y0:y1, x0:x1]
        np.copyto(hw, dome, where=inside)
        np.multiply(lw_, np.float32(keep), out=lw_, where=inside)
        cv2.polylines(lines, [cell.poly], True, 1.0, lw, cv2.LINE_AA, shapes.SHIFT)
        if rng.random() < p["nucleus_p"]:
            nr = cell.r * rng.uniform(0.14, 0.24)
            nx = cell.x + rng.uniform(-0.3, 0.3) * cell.r
            ny = cell.y + rng.uniform(-0.3, 0.3) * cell.r
            ctr = (int(nx * 16), int(ny * 16))
            # A nucleus is clearer than the granular cytoplasm around it, not a flat disc.
            x0n, y0n = max(int(nx - nr) - 1, 0), max(int(ny - nr) - 1, 0)
            x1n, y1n = min(int(nx + nr) + 2, side), min(int(ny + nr) + 2, side)
            disc_n = np.zeros((y1n - y0n, x1n - x0n), np.float32)
            cv2.circle(disc_n, (int((nx - x0n) * 16), int((ny - y0n) * 16)), int(nr * 16), 1.0, -1,
                       cv2.LINE_AA, 4)
            tn = T[y0n:y1n, x0n:x1n]
            tn += disc_n * (0.04 - 0.5 * (tn - level))
            cv2.circle(lines, ctr, int(nr * 16), 0.35, max(1, lw - 1), cv2.LINE_AA, 4)

    lines *= emb.disc  # membranes end where the cells meet the zona
    zl = p["zona_line"]
    cv2.circle(lines, (int(c * 16), int(c * 16)), int(emb.r_inner * 16), zl, lw, cv2.LINE_AA, 4)
    cv2.circle(lines, (int(c * 16), int(c * 16)), int(emb.r_outer * 16), 0.6 * zl, lw, cv2.LINE_AA, 4)

    if emb.frags:
        # All fragments at once: the mask already says which pixels are fragment.
        fr = emb.mask == 2
        lvl = np.zeros((side, side), np.float32)
        hgt = np.zeros((side, side), np.float32)
        levels = p["frag_level"] + rng.normal(0, 0.025, len(emb.frags))
        cores = rng.random(len(emb.frags)) < 0.2
        for f, level, core in zip(emb.frags, levels.tolist(), cores.tolist()):
            shapes.fill(lvl, f.poly, level)
            shapes.fill(hgt, f.poly, float(p["frag_height"] * min(f.r / (10 * scale), 1.0)))
            if core and f.r > 4 * scale:  # refractile core
                cv2.circle(lvl, (int(f.x * 16), int(f.y * 16)), int(f.r * 0.35 * 16),
                           float(p["frag_level"] + 0.06), -1, cv2.LINE_AA, 4)
        lvl += np.float32(0.9 * p["cell_tex"]) * gran
        np.copyto(T, lvl, where=fr)
        # A fragment is a small cell: as high as one above the dish, a little more over a cell.
        hgt += np.maximum(H, 1.0)
        np.copyto(H, hgt, where=fr)
        np.multiply(lines, np.float32(0.2), out=lines, where=fr)
        cv2.polylines(lines, [f.poly for f in emb.frags], True, 1.0, lw, cv2.LINE_AA, shapes.SHIFT)

    # Thin dark line with a faint bright halo beside it, as membranes look in bright field.
    fine = cv2.GaussianBlur(lines, (0, 0), 0.6 * max(scale, 0.5))
    # The halo is smooth: blurred at half resolution (4x fewer pixels, half the taps).
    half = cv2.resize(lines, ((side + 1) // 2, (side + 1) // 2), interpolation=cv2.INTER_AREA)
    wide = cv2.resize(cv2.GaussianBlur(half, (0, 0), 1.25 * scale), (side, side),
                      interpolation=cv2.INTER_LINEAR)
    T -= p["line_dark"] * fine
    T += p["line_halo"] * np.clip(wide - fine, 0, None)
    alpha = np.clip((emb.r_outer + 8.0 * scale - dist) / (3.0 * scale), 0, 1)
    return T, H, alpha
