"""How much fragment detail survives the network's input size.

For each expert mask in ../shared/data/cleavage-embryo (or any images/ +
masks/ folder), cut the predictor's crop around the embryo, shrink the
one-hot mask to SxS (area averaging, like the image), grow it back and take
the argmax: the best any network at that input size could do. Prints the
fragment Dice and fraction error of that round trip, and the forward time
of the default network at each size, so the choice of ``input_size`` is a
measured trade-off (docs/model-card.md).

    python bench/input_resolution.py [--data ../shared/data/cleavage-embryo]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from app.core.imaging import list_images, read_image  # noqa: E402
from bench.machine import describe  # noqa: E402
from model import preprocess as pp  # noqa: E402
from model.config import named_config  # noqa: E402
from model.network import AttnRegDeepLab  # noqa: E402

SIZES = (192, 256, 320, 384, 448, 512)


def round_trip(mask: np.ndarray, box: pp.Box, size: int) -> np.ndarray:
    onehot = np.stack([(mask == k).astype(np.float32) for k in range(3)], axis=2)
    crop = pp.crop(onehot, box)
    small = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    back = cv2.resize(small, (box.side, box.side), interpolation=cv2.INTER_LINEAR)
    out = np.zeros_like(mask)
    full = np.zeros(mask.shape + (3,), np.float32)
    full[..., 0] = 1
    pp.paste(full, back, box)
    out = full.argmax(2).astype(np.uint8)
    return out


def dice(a: np.ndarray, b: np.ndarray) -> float:
    s = a.sum() + b.sum()
    return 1.0 if s == 0 else 2 * float((a & b).sum()) / float(s)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "cleavage-embryo"))
    args = ap.parse_args()
    data = Path(args.data)
    masks = [read_image(p) for p in list_images(data / "masks")]
    if not masks:
        print(f"no masks under {data}/masks", file=sys.stderr)
        return 1
    print(describe())
    print(f"data: {len(masks)} expert masks from {data}\n")
    print(f"{'input':>5} {'frag Dice':>9} {'|d frac| pts':>12} {'crop scale':>10} {'fwd ms':>7}")
    for size in SIZES:
        dices, errs, scales = [], [], []
        for m in masks:
            box = pp.embryo_box(m > 0)
            rt = round_trip(m, box, size)
            dices.append(dice(rt == 2, m == 2))
            f0 = (m == 2).sum() / (m > 0).sum()
            f1 = (rt == 2).sum() / max(1, (rt > 0).sum())
            errs.append(abs(f0 - f1) * 100)
            scales.append(size / box.side)
        model = AttnRegDeepLab(named_config("attnregdeeplab", input_size=size)).eval()
        x = torch.randn(1, 1, size, size)
        with torch.inference_mode():
            model(x)
            t = time.perf_counter()
            for _ in range(3):
                model(x)
        ms = (time.perf_counter() - t) / 3 * 1000
        print(f"{size:5d} {np.mean(dices):9.3f} {np.mean(errs):12.2f} {np.mean(scales):10.2f} {ms:7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
