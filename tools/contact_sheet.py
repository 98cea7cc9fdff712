"""A contact sheet of a model's overlays on a folder of images (no masks needed), for docs/.

    .venv/bin/python tools/contact_sheet.py --images ../shared/data/unlabelled --out docs/contact-sheet.png
                                            [--model CKPT] [--tile 360] [--cols 4]

Each tile: the image with blastomere outlined in green and fragments filled
in red, under it the mask fragmentation %, grade, ± and flags. Headless
(OpenCV only); the footer names the model version and says "For research
use only".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def tile(img: np.ndarray, pred, size: int, name: str) -> np.ndarray:
    gray = img if img.ndim == 2 else cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2GRAY)
    if gray.dtype != np.uint8:
        gray = cv2.convertScaleAbs(gray, alpha=255.0 / max(float(gray.max()), 1.0))
    x0, y0, x1, y1 = pred.embryo_box
    h, w = gray.shape
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    rgb = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    frag = pred.class_mask == 2
    rgb[frag] = (0.45 * rgb[frag] + np.array([0, 0, 140])).astype(np.uint8)
    cells = (pred.class_mask > 0).astype(np.uint8)
    contours, _ = cv2.findContours(cells, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(rgb, contours, -1, (60, 200, 60), max(1, (x1 - x0) // 300))
    crop = rgb[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else rgb
    side = max(crop.shape[:2])
    sq = np.zeros((side, side, 3), np.uint8)
    sq[:crop.shape[0], :crop.shape[1]] = crop
    sq = cv2.resize(sq, (size, size), interpolation=cv2.INTER_AREA)
    band = np.full((54, size, 3), 255, np.uint8)
    pm = pred.fragment_pct_mask
    flags = [f for f, on in (("borderline", pred.borderline), ("unusual", pred.unusual)) if on]
    ci = "" if pred.interval_coverage is None else f" ({pred.interval_coverage:.0%})"
    cv2.putText(band, name[:40], (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(band, f"{pm:.1f} % +/- {pred.uncertainty:.1f}{ci}  grade {pred.grade}  {' '.join(flags)}",
                (6, 42), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([sq, band])


def main() -> int:
    from app.core.imaging import list_images, read_image
    from app.core.resources import default_model_path
    from model.predictor import Predictor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", type=Path)
    ap.add_argument("--tile", type=int, default=360)
    ap.add_argument("--cols", type=int, default=4)
    args = ap.parse_args()
    model = args.model or default_model_path()
    predictor = Predictor.from_checkpoint(model, device="cpu")
    tiles = []
    for p in list_images(args.images):
        img = read_image(p)
        pred = predictor.predict(img)
        tiles.append(tile(img, pred, args.tile, p.name))
        print(f"{p.name:40s} {pred.fragment_pct_mask:6.1f} %  grade {pred.grade}  +/- {pred.uncertainty:.1f}"
              f"{'  unusual' if pred.unusual else ''}")
    if not tiles:
        print(f"error: no images in {args.images}", file=sys.stderr)
        return 2
    while len(tiles) % args.cols:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [np.hstack(tiles[i:i + args.cols]) for i in range(0, len(tiles), args.cols)]
    sheet = np.vstack(rows)
    foot = np.full((28, sheet.shape[1], 3), 255, np.uint8)
    cv2.putText(foot, f"model {predictor.version}  -  green: embryo outline, red: fragments  -  For research use only",
                (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.vstack([sheet, foot]))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
