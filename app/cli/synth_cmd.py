"""`main.py synth`: write a synthetic training set (images, exact masks, manifest).

Layout: DIR/images/synth_NNNNN.png, DIR/masks/synth_NNNNN.png (uint8 0/1/2),
DIR/manifest.csv (name, fragment_pct, grade (Istanbul), style, ...). Sample i
uses seed S+i, so any item can be regenerated alone.
"""

from __future__ import annotations

import argparse
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--n", type=int, required=True, help="number of images")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first image (default 0)")
    parser.add_argument(
        "--size", type=int, default=800,
        help="time-lapse frame side in px; inverted frames are 960x1280 scaled by size/800",
    )
    parser.add_argument(
        "--style", choices=("timelapse", "inverted", "mixed"), default="mixed",
        help="microscope look; mixed picks per seed (about 60 %% time-lapse)",
    )


def run(args: argparse.Namespace) -> int:
    from app.core.imaging import write_png
    from model.synth.writer import write_dataset

    if args.n < 0 or args.size < 32:
        print("synth: --n must be >= 0 and --size >= 32", file=sys.stderr)
        return 2
    style = None if args.style == "mixed" else args.style
    t0 = time.perf_counter()
    counts = {"1": 0, "2": 0, "3": 0}
    for i, row in enumerate(
        write_dataset(args.out, args.n, args.seed, write_png, size=args.size, style=style), 1
    ):
        counts[row["grade"]] = counts.get(row["grade"], 0) + 1
        if i == args.n or i % 10 == 0:
            rate = i / max(time.perf_counter() - t0, 1e-9)
            print(f"\rsynth: {i}/{args.n} ({rate:.1f} img/s)", end="", file=sys.stderr, flush=True)
    if args.n:
        print(file=sys.stderr)
    grades = ", ".join(f"grade {k}: {v}" for k, v in sorted(counts.items()))
    print(f"wrote {args.n} images to {args.out} ({grades})")
    return 0
