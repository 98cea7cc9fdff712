"""Regenerate the demo images in this folder: 8 time-lapse + 4 inverted synthetic embryos.

Run from the repository root:  .venv/bin/python resources/samples/make_samples.py
Images go to resources/samples/*.png (480 px time-lapse, 384x512 inverted,
to keep the folder small), masks to resources/samples/masks/, and a
manifest.csv. Every Istanbul grade appears in both looks; one is exactly 0 %.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from app.core.imaging import write_png  # noqa: E402
from model.synth import generate  # noqa: E402
from model.synth.writer import write_manifest, write_sample  # noqa: E402

SIZE = {"timelapse": 480, "inverted": 320}  # inverted RGB noise compresses badly in PNG
SEED = 2024
# (style, target fraction): grades 1, 2, 3 in both looks, 0 % included.
PLAN = [
    ("timelapse", 0.0), ("timelapse", 0.04), ("timelapse", 0.08), ("timelapse", 0.14),
    ("timelapse", 0.21), ("timelapse", 0.30), ("timelapse", 0.42), ("timelapse", 0.12),
    ("inverted", 0.03), ("inverted", 0.17), ("inverted", 0.35), ("inverted", 0.0),
]


def main() -> int:
    (HERE / "masks").mkdir(exist_ok=True)
    rows = []
    for i, (style, target) in enumerate(PLAN):
        name = f"synth_{style}_{i:02d}"
        s = generate(SEED + i, style=style, size=SIZE[style], target_fraction=target)
        rows.append(write_sample(HERE / f"{name}.png", HERE / "masks" / f"{name}.png", name, s,
                                 write_png))
    write_manifest(HERE / "manifest.csv", rows)
    total = sum(p.stat().st_size for p in HERE.rglob("*.png"))
    print(f"wrote {len(rows)} samples ({total / 1e6:.2f} MB); grades "
          + " ".join(f"{r['name']}={r['fragment_pct']}%/{r['grade']}" for r in rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
