"""fp32 against bf16 autocast + channels_last through the whole predictor: same masks? how much faster?

    python bench/predictor_precision.py [--model CKPT] [--data DIR] [--synthetic 6] [--repeats 3]

For every frame (the shared real frames when present, plus synthetic ones):
share of pixels whose class differs, fragment-% difference, and the median
time per frame of each variant, interleaved so both see the same load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.machine import describe  # noqa: E402


def main() -> int:
    from app.core.imaging import list_images, read_image
    from app.core.resources import default_model_path
    from model.device import cpu_has_bf16
    from model.predictor import Predictor
    from model.synth import generate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
                    / "cleavage-embryo" / "images")
    ap.add_argument("--synthetic", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    model = args.model or default_model_path()
    print(describe())
    print(f"model {model}; CPU native bf16: {cpu_has_bf16()}")
    images = [(p.name, read_image(p)) for p in (list_images(args.data) if args.data.is_dir() else [])]
    images += [(f"synth-{s}", generate(s, size=800).image) for s in range(20000, 20000 + args.synthetic)]
    fp32 = Predictor.from_checkpoint(model, device="cpu", threads=args.threads, precision="fp32")
    fast = Predictor.from_checkpoint(model, device="cpu", threads=args.threads, precision="auto")
    print(f"variants: fp32 NCHW vs {fast.precision} {'channels_last' if fast._nhwc else 'NCHW'}\n")
    print(f"{'image':44s} {'differ %':>8s} {'frag% fp32':>10s} {'frag% fast':>10s} {'ms fp32':>8s} {'ms fast':>8s}")
    t32, tf, diffs, dpct = [], [], [], []
    for name, img in images:
        fp32.predict(img), fast.predict(img)  # warm-up
        a, b = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            p32 = fp32.predict(img)
            a.append(time.perf_counter() - t)
            t = time.perf_counter()
            pf = fast.predict(img)
            b.append(time.perf_counter() - t)
        d = 100 * float(np.mean(p32.class_mask != pf.class_mask))
        t32.append(statistics.median(a))
        tf.append(statistics.median(b))
        diffs.append(d)
        dpct.append(abs(p32.fragment_pct_mask - pf.fragment_pct_mask))
        print(f"{name[:44]:44s} {d:8.3f} {p32.fragment_pct_mask:10.2f} {pf.fragment_pct_mask:10.2f} "
              f"{1000 * t32[-1]:8.1f} {1000 * tf[-1]:8.1f}")
    print(f"\nmedian ms/frame: fp32 {1000 * statistics.median(t32):.1f}, fast {1000 * statistics.median(tf):.1f} "
          f"(x{statistics.median(t32) / statistics.median(tf):.2f}); pixels differing: mean {np.mean(diffs):.3f} %, "
          f"fragment % difference: mean {np.mean(dpct):.2f}, max {np.max(dpct):.2f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
