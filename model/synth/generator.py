"""generate(seed, ...) -> SynthSample: one synthetic embryo image with its exact mask.

Everything random comes from ``np.random.default_rng(seed)`` in a fixed
order, so a seed (with the same arguments) always gives the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.grading import fragment_fraction, get_scheme
from model.synth import copy_paste, debris, embryo, microscope
from model.synth.real_bank import RealBank

STYLES = ("timelapse", "inverted")
# Target bins: Istanbul grade 1, 2, 3 (fractions). Kept a hair inside the
# cut-offs so the last fragment cannot carry the realised % over a boundary.
BINS = ((0.0, 0.097), (0.103, 0.247), (0.254, 0.495))
_CELL_COUNTS = np.arange(2, 11)
_CELL_P = np.array([14, 10, 16, 9, 9, 8, 14, 8, 6], float)
_CELL_P /= _CELL_P.sum()


@dataclass
class SynthSample:
    image: np.ndarray  # uint8, HxW gray (timelapse) or HxWx3 RGB (inverted)
    mask: np.ndarray  # uint8 HxW, 0 background, 1 blastomere, 2 fragment
    fraction: float  # fragment / (blastomere + fragment), from mask
    style: str  # "timelapse" | "inverted"
    meta: dict = field(default_factory=dict)


def frame_shape(style: str, size: int) -> tuple[int, int]:
    if style == "timelapse":
        return size, size
    return round(960 * size / 800), round(1280 * size / 800)


def _look(rng: np.random.Generator, style: str) -> dict:
    u = rng.uniform
    if style == "timelapse":
        cell = u(0.74, 0.92)
        return dict(
            zona_level=cell + u(-0.06, 0.06), zona_tex=u(0.05, 0.11), zona_grain=u(1.0, 1.8),
            zona_grad=u(-0.06, 0.06), zona_height=u(0.2, 0.6), zona_soft=u(1.0, 6.0), pv_level=u(0.88, 1.0),
            zona_line=u(0.05, 0.35), cell_level=cell, cell_tex=u(0.05, 0.12), grain=u(0.9, 1.6),
            grain_mix=u(0.1, 0.5), occlusion_keep=u(0.12, 0.35), dome=u(0.1, 0.4),
            nucleus_p=u(0.0, 0.4), frag_level=cell + u(-0.04, 0.08), frag_height=u(0.0, 0.3),
            line_width=u(1.2, 2.2), line_dark=u(0.15, 0.35), line_halo=u(0.05, 0.2),
        )
    cell = u(0.85, 1.0)
    return dict(
        zona_level=u(0.9, 1.0), zona_tex=u(0.02, 0.06), zona_grain=u(0.8, 1.4),
        zona_grad=u(-0.04, 0.04), zona_height=u(0.5, 1.0), pv_level=u(0.96, 1.03),
        zona_line=u(0.1, 0.3), cell_level=cell, cell_tex=u(0.04, 0.1), grain=u(0.7, 1.2),
        grain_mix=u(0.2, 0.6), occlusion_keep=u(0.1, 0.3), dome=u(0.5, 1.2),
        nucleus_p=u(0.0, 0.5), frag_level=cell + u(-0.03, 0.06), frag_height=u(0.2, 0.6),
        line_width=u(1.0, 1.6), line_dark=u(0.04, 0.15), line_halo=u(0.0, 0.06),
    )


def _pick_target(rng: np.random.Generator) -> tuple[int, float]:
    b = int(rng.integers(3))
    if b == 0 and rng.random() < 0.3:
        return b, 0.0  # a clean embryo, exactly 0 %
    lo, hi = BINS[b]
    return b, float(rng.uniform(max(lo, 0.004), hi))


def _place(rng, style, h, w, r_outer, s, well):
    """Embryo centre: off-centre, whole embryo in frame (and in the well)."""
    m = r_outer + 8 * s
    for _ in range(60):
        x, y = rng.uniform(m, w - m), rng.uniform(m, h - m)
        if style != "timelapse":
            return x, y
        (wx, wy), rw = well["well_centre"], well["well_radius"]
        if np.hypot(x - wx, y - wy) < rw * 0.97 - r_outer:
            return x, y
    return w / 2, h / 2


def _real_plan(rng: np.random.Generator, bank: RealBank | None, tl: bool, target: float) -> dict:
    """How much of this frame comes from real frames; {} for the procedural look alone."""
    if not bank:
        return {}
    # Gain spans smooth (0.5) to heavily granular (2.2x the real median) cytoplasm; optics
    # (defocus, noise) soften it again, so the median lands near the real frames'.
    gain = float(rng.uniform(0.5, 1.6)) if rng.random() < 0.85 else float(rng.uniform(1.6, 2.2))
    # Part of the fragmentation is real fragments pasted after the procedural ones.
    share = float(rng.uniform(0.3, 1.0)) if bank.fragments else 0.0
    return {"gain": gain, "field_height": 0.0 if tl else float(rng.uniform(0.5, 2.0)),
            "real_fragment_share": share, "procedural_target": target * (1 - share)}


def generate(
    seed: int, style: str | None = None, size: int = 800, target_fraction: float | None = None,
    bank: RealBank | None = None,
) -> SynthSample:
    """One frame. With a ``bank`` of real frames (copy-paste synthesis), cells get real
    cytoplasm texture, part of the fragmentation is real fragments, and real
    background texture and oil droplets sit outside the zona. Without one,
    the random stream (and so every frame of a seed) is what it always was.
    """
    rng = np.random.default_rng(seed)
    pick_style = STYLES[0] if rng.random() < 0.6 else STYLES[1]
    style = style or pick_style
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, not {style!r}")
    b, target = _pick_target(rng)
    if target_fraction is not None:
        target = float(np.clip(target_fraction, 0.0, 0.6))
    s = size / 800.0
    h, w = frame_shape(style, size)
    tl = style == "timelapse"

    well: dict = {}
    if tl:
        illum, well = microscope.timelapse_illumination(rng, size)
        r_outer = rng.uniform(165, 235) * s
        zona = rng.uniform(20, 45) * s
    else:
        illum = microscope.inverted_illumination(rng, h, w)
        r_outer = rng.uniform(125, 175) * s
        zona = rng.uniform(5, 13) * s
    n_cells = int(rng.choice(_CELL_COUNTS, p=_CELL_P))
    p = _look(rng, style)
    fscale = r_outer / 200.0  # fragment sizes follow the embryo (3-40 px at 800 time-lapse)
    real = _real_plan(rng, bank, tl, target)
    emb = embryo.build(rng, r_outer, zona, n_cells, real.get("procedural_target", target), fscale)
    field = None
    if real:
        field = bank.cytoplasm_field(rng, (emb.side, emb.side), s) * np.float32(real["gain"])
        p["field_height"] = real["field_height"]
    T_roi, H_roi, alpha = embryo.render(rng, emb, p, max(fscale, s * 0.6), cell_field=field)

    ex, ey = _place(rng, style, h, w, r_outer, s, well)
    ox, oy = int(round(ex - emb.c)), int(round(ey - emb.c))
    ex, ey = ox + emb.c, oy + emb.c
    # The frame's transmission is kept as dT = T - 1: zero (calloc'd, pages
    # never touched) wherever nothing is drawn, which is most of the frame.
    dT = np.zeros((h, w), np.float32)
    Hgt = np.zeros((h, w), np.float32)
    mask = np.zeros((h, w), np.uint8)
    fx0, fy0 = max(ox, 0), max(oy, 0)
    fx1, fy1 = min(ox + emb.side, w), min(oy + emb.side, h)
    sl = (slice(fy0, fy1), slice(fx0, fx1))
    rs = (slice(fy0 - oy, fy1 - oy), slice(fx0 - ox, fx1 - ox))
    a = alpha[rs]
    dT[sl] = a * (T_roi[rs] - 1.0)
    Hgt[sl] = H_roi[rs]
    mask[sl] = emb.mask[rs]

    n_clumps = int(rng.integers(0, 7 if tl else 4))
    blobs = debris.draw(rng, dT, Hgt, (ex, ey), r_outer, s, n_clumps, 0.1 if tl else 0.0)
    extents = list(blobs)  # what the edge contrast and the transmission product must cover
    if real:
        real["fragments"] = copy_paste.paste_fragments(rng, bank, dT, Hgt, mask, (ex, ey), emb.r_inner,
                                                       s, target)
        outside = copy_paste.paste_outside(rng, bank, dT, Hgt, (ex, ey), r_outer, s, int(rng.integers(0, 4)))
        drops = copy_paste.draw_droplets(rng, dT, Hgt, (ex, ey), r_outer, s, int(rng.integers(0, 3)))
        real["outside"], real["droplets"] = len(outside), len(drops)
        extents += outside + drops

    if tl:
        # Defocus above or below the embryo flips which side of an edge is bright.
        relief, lap = rng.uniform(0.0, 0.3), rng.uniform(0.15, 0.7) * rng.choice([1, 1, 1, -1])
    else:
        relief, lap = rng.uniform(0.8, 1.8), rng.uniform(-0.1, 0.25)
    # Edge contrast only where there is something: the embryo and the clumps.
    pad = int(12 * s) + 4
    xs = [fx0, fx1] + [b[0] - b[2] for b in extents] + [b[0] + b[2] for b in extents]
    ys = [fy0, fy1] + [b[1] - b[2] for b in extents] + [b[1] + b[2] for b in extents]
    box = (max(int(min(xs)) - pad, 0), max(int(min(ys)) - pad, 0),
           min(int(max(xs)) + pad, w), min(int(max(ys)) + pad, h))
    microscope.edge_contrast(
        dT, Hgt, box, rng.uniform(1.0, 2.0) * s, relief, rng.uniform(0, 2 * np.pi), lap
    )
    # T is 1 outside the box (nothing drawn there): only the box needs the product.
    img = illum
    roi = (slice(box[1], box[3]), slice(box[0], box[2]))
    img[roi] += img[roi] * dT[roi]
    img = microscope.optics(rng, img, s, 1.6 if tl else 1.2)
    text: dict = {}
    if tl and rng.random() < 0.85:
        text = microscope.burn_text(rng, img)
    if not tl:
        img = microscope.colourise(rng, img)

    frac = fragment_fraction(mask[sl])  # every labelled pixel lies in the canvas
    frac = 0.0 if frac != frac else frac
    meta = {
        "seed": int(seed),
        "style": style,
        "size": size,
        "n_cells": n_cells,
        "n_fragments": len(emb.frags),
        "centre": (float(ex), float(ey)),
        "zona_outer_radius": float(r_outer),
        "zona_inner_radius": float(emb.r_inner),
        "target_bin": b if target_fraction is None else None,
        "target_fraction": target,
        "target_grade": get_scheme("istanbul").grade(100 * target),
        "grade": get_scheme("istanbul").grade(100 * frac),
        "debris": blobs,
        "real": {k: v for k, v in real.items() if k != "procedural_target"},
        **well,
        **text,
    }
    return SynthSample(img, mask, float(frac), style, meta)
