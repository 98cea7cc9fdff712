"""Synthetic generator speed on one core: images/s per style at a given size.

Usage: .venv/bin/python bench/synth_speed.py [--size 800] [--n 60]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.synth import frame_shape, generate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=800)
    ap.add_argument("--n", type=int, default=60)
    args = ap.parse_args()
    cv2.setNumThreads(1)  # the claim is per core; training workers run one generator each
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"cpu_count={os.cpu_count()}, python {platform.python_version()}, cv2 {cv2.__version__}")
    # CPU time of this process as well as wall time: on a shared machine the
    # wall clock measures the neighbours too.
    # The mean is the claim (it is what a training worker gets over an epoch);
    # the median per image is also shown because a VM's neighbours add outliers.
    print(f"{'style':<10} {'frame HxW':>10} {'n':>4} {'wall ms':>8} {'img/s':>7} "
          f"{'cpu ms':>7} {'img/s (cpu)':>11} {'median cpu ms':>13}")
    rates = []
    for style in ("timelapse", "inverted", None):
        generate(0, style=style, size=args.size)  # warm-up (imports, caches)
        per = []
        t0 = time.perf_counter()
        for i in range(args.n):
            c = time.process_time()
            generate(1000 + i, style=style, size=args.size)
            per.append(time.process_time() - c)
        dt = (time.perf_counter() - t0) / args.n
        dc = sum(per) / args.n
        med = statistics.median(per)
        shape = "x".join(map(str, frame_shape(style, args.size))) if style else "both"
        name = style or "mixed"
        print(f"{name:<10} {shape:>10} {args.n:>4} {dt * 1000:>8.1f} {1 / dt:>7.1f} "
              f"{dc * 1000:>7.1f} {1 / dc:>11.1f} {med * 1000:>13.1f}")
        rates.append(1 / dc)
    # Last line: the training mix (60 % time-lapse, 40 % inverted, as drawn by seed).
    print(f"images/s (cpu, one core, mixed looks, {args.size}): {rates[-1]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
