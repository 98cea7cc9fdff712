"""Time per save as the annotation store grows to N samples of 800x800 (image + masks).

    .venv/bin/python bench/store_save.py [--n 1000] [--compact-every 200] [--dir DIR]

Prints the median/max save time every 100 saves, compaction times separately,
the open time of the full store, and the machine. A save must not grow with
the store's size: that is what the journal design is for.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.store import AnnotationStore, Revision  # noqa: E402


def sample(i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Smooth noise + a disc: compresses like a real frame, unlike pure noise or a flat image.
    img = cv2.GaussianBlur(rng.normal(128, 30, (800, 800)).clip(0, 255).astype(np.uint8), (5, 5), 0)
    mask = np.zeros((800, 800), np.uint8)
    cv2.circle(mask, (400, 400), 150 + i % 50, 1, -1)
    cv2.circle(mask, (480, 380), 20 + i % 15, 2, -1)
    return img, mask


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--compact-every", type=int, default=200)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"cpu_count={os.cpu_count()}, python {platform.python_version()}")
    rng = np.random.default_rng(0)
    pool = [sample(i, rng) for i in range(20)]  # generating 1000 frames would dominate the run
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        store = AnnotationStore(Path(tmp) / "annotations.h5", compact_every=0)
        times, compactions = [], []
        for i in range(args.n):
            img, mask = pool[i % len(pool)]
            img = img.copy()
            img[0, 0] = i % 256  # distinct pixels per sample
            sha = hashlib.sha256(f"bench-{i}".encode()).hexdigest()
            rev = Revision(sha, f"E{i // 10}_RUN{i % 10}.png", "corrected", "bench",
                           mask=mask, model_mask=mask, grade="1", scheme="istanbul",
                           fragment_fraction=0.05, model_version="bench")
            t0 = time.perf_counter()
            store.append(rev, image=img)
            times.append(time.perf_counter() - t0)
            if args.compact_every and store.journal_size >= args.compact_every:
                t0 = time.perf_counter()
                store.compact()
                compactions.append((i + 1, time.perf_counter() - t0))
                print(f"  compaction at {i + 1} samples: {compactions[-1][1] * 1000:.0f} ms")
            if (i + 1) % 100 == 0:
                last = times[-100:]
                print(f"{i + 1:5d} samples: save median {statistics.median(last) * 1000:6.1f} ms, "
                      f"max {max(last) * 1000:6.1f} ms, main file "
                      f"{store.path.stat().st_size / 2**20:7.1f} MiB, journal {store.journal_size}")
        t0 = time.perf_counter()
        store.close()
        print(f"close (final compaction): {(time.perf_counter() - t0) * 1000:.0f} ms")
        t0 = time.perf_counter()
        with AnnotationStore(Path(tmp) / "annotations.h5", readonly=True) as s:
            n = len(s)
            s.current(s.shas()[-1])
        print(f"open of {n} samples (read-only, index only): {(time.perf_counter() - t0) * 1000:.0f} ms")
        first, last = statistics.median(times[:100]), statistics.median(times[-100:])
        print(f"save median first 100: {first * 1000:.1f} ms, last 100: {last * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
