"""Write a synthetic data set: images/, masks/ and manifest.csv.

Sample i of a set uses seed ``seed + i``, so the set is reproducible and any
item can be regenerated alone. ``write_png`` is passed in by the caller
(app.core.imaging.write_png, non-ASCII-safe) so model/ stays free of file
formats beyond what it needs.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from model.grading import get_scheme
from model.synth.generator import SynthSample, generate

MANIFEST_COLUMNS = (
    "name", "seed", "style", "width", "height", "fragment_pct", "grade",
    "n_cells", "n_fragments", "centre_x", "centre_y", "zona_outer_radius", "zona_inner_radius",
)


def sample_name(i: int) -> str:
    return f"synth_{i:05d}"


def manifest_row(name: str, sample: SynthSample) -> dict:
    s = sample
    return {
        "name": name, "seed": s.meta["seed"], "style": s.style,
        "width": s.image.shape[1], "height": s.image.shape[0],
        "fragment_pct": f"{100.0 * s.fraction:.2f}",
        "grade": get_scheme("istanbul").grade(100.0 * s.fraction),
        "n_cells": s.meta["n_cells"], "n_fragments": s.meta["n_fragments"],
        "centre_x": f"{s.meta['centre'][0]:.1f}", "centre_y": f"{s.meta['centre'][1]:.1f}",
        "zona_outer_radius": f"{s.meta['zona_outer_radius']:.1f}",
        "zona_inner_radius": f"{s.meta['zona_inner_radius']:.1f}",
    }


def write_sample(
    image_path: str | os.PathLike,
    mask_path: str | os.PathLike,
    name: str,
    sample: SynthSample,
    write_png: Callable[[str | os.PathLike, np.ndarray], None],
) -> dict:
    write_png(image_path, sample.image)
    write_png(mask_path, sample.mask)
    return manifest_row(name, sample)


def write_manifest(path: str | os.PathLike, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS)
        w.writeheader()
        w.writerows(rows)


def write_dataset(
    out: str | os.PathLike,
    n: int,
    seed: int,
    write_png: Callable[[str | os.PathLike, np.ndarray], None],
    size: int = 800,
    style: str | None = None,
) -> Iterator[dict]:
    """Generate and write n samples; yields each manifest row as it is written (for progress)."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS)
        w.writeheader()
        for i in range(n):
            name = sample_name(i)
            s = generate(seed + i, style=style, size=size)
            row = write_sample(out / "images" / f"{name}.png", out / "masks" / f"{name}.png",
                               name, s, write_png)
            w.writerow(row)
            fh.flush()  # a partly written set still has a valid manifest
            yield row
