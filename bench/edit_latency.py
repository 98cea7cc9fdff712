"""Latency of mask editing: one brush segment, a stroke's end, undo, delete fragment.

Painting must stay fluid: a mouse move arrives every ~8-16 ms and the view
still has to recolour the box, so one segment should cost well under 5 ms.

    .venv/bin/python bench/edit_latency.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.label_edit import BLASTOMERE, FRAGMENT, LabelEditor  # noqa: E402


def _embryo_mask(n: int) -> np.ndarray:
    m = np.zeros((n, n), np.uint8)
    yy, xx = np.ogrid[:n, :n]
    m[(yy - n / 2) ** 2 + (xx - n / 2) ** 2 < (0.4 * n) ** 2] = BLASTOMERE
    return m


def _ms(times: list[float]) -> tuple[float, float]:
    a = np.asarray(times) * 1e3
    return float(np.median(a)), float(np.percentile(a, 95))


def bench(n: int, radius: float, repeats: int, rng) -> dict:
    ed = LabelEditor(_embryo_mask(n))
    seg, end, undo, redo = [], [], [], []
    for _ in range(max(repeats // 20, 3)):
        # A stroke of 20 mouse moves of ~12 px, as a drag at a normal speed produces.
        y, x = rng.uniform(0.2 * n, 0.8 * n, 2)
        ed.begin_stroke()
        for _ in range(20):
            ny, nx = y + rng.uniform(-12, 12), x + rng.uniform(-12, 12)
            t = time.perf_counter()
            ed.paint_segment((y, x), (ny, nx), radius, FRAGMENT)
            seg.append(time.perf_counter() - t)
            y, x = ny, nx
        t = time.perf_counter()
        ed.end_stroke()
        end.append(time.perf_counter() - t)
    for _ in range(len(end)):
        t = time.perf_counter()
        ed.undo()
        undo.append(time.perf_counter() - t)
    for _ in range(len(end)):
        t = time.perf_counter()
        ed.redo()
        redo.append(time.perf_counter() - t)
    # Deleting one small fragment must not cost a whole-image pass.
    ed.mask[n // 2:n // 2 + 15, n // 2:n // 2 + 15] = FRAGMENT
    t = time.perf_counter()
    ed.delete_component(n // 2 + 5, n // 2 + 5)
    delete = [time.perf_counter() - t]
    return {"n": n, "r": radius, "seg": _ms(seg), "end": _ms(end), "undo": _ms(undo),
            "redo": _ms(redo), "delete": _ms(delete)}


def bench_view(n: int, radius: float, segments: int = 40) -> dict:
    """Segment + the view's recolouring + pyqtgraph's render of the mask item, offscreen.

    The render is what a paint event costs; if it is O(image) the brush
    stutters however cheap the edit itself is.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.gui.image_view import ImageView

    app = QApplication.instance() or QApplication([])
    view = ImageView()
    view.resize(800, 800)
    view.show()
    ed = LabelEditor(_embryo_mask(n))
    view.set_image(np.full((n, n), 120, np.uint8))
    view.set_prediction_overlays(ed.mask, {})
    app.processEvents()
    ed.add_listener(lambda b: view.update_mask_region(b.y0, b.y1, b.x0, b.x1))
    edit, render = [], []
    y = x = n / 2
    ed.begin_stroke()
    for _ in range(segments):
        t = time.perf_counter()
        ed.paint_segment((y, x), (y + 5, x + 8), radius, FRAGMENT)
        edit.append(time.perf_counter() - t)
        y, x = y + 5, x + 8
        t = time.perf_counter()
        view.mask_item.render()
        render.append(time.perf_counter() - t)
    ed.end_stroke()
    view.close()
    return {"edit": _ms(edit), "render": _ms(render)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096])
    ap.add_argument("--radii", type=float, nargs="+", default=[10, 40])
    ap.add_argument("--no-gui", action="store_true", help="skip the image view's redraw timing")
    args = ap.parse_args(argv)
    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}; "
          f"python {platform.python_version()}; numpy {np.__version__}; {platform.platform()}")
    rng = np.random.default_rng(0)
    print(f"{'mask':>10} {'radius':>6} | {'segment ms':>17} | {'end stroke':>15} | "
          f"{'undo':>15} | {'redo':>15} | {'del frag':>8}")
    print(f"{'':>10} {'':>6} | {'median':>8} {'p95':>8} | {'median':>7} {'p95':>7} | "
          f"{'median':>7} {'p95':>7} | {'median':>7} {'p95':>7} | {'':>8}")
    worst = 0.0
    for n in args.sizes:
        for r in args.radii:
            b = bench(n, r, args.repeats, rng)
            worst = max(worst, b["seg"][1])
            print(f"{n}x{n:<5} {r:>6g} | {b['seg'][0]:8.3f} {b['seg'][1]:8.3f} | "
                  f"{b['end'][0]:7.2f} {b['end'][1]:7.2f} | {b['undo'][0]:7.2f} {b['undo'][1]:7.2f} | "
                  f"{b['redo'][0]:7.2f} {b['redo'][1]:7.2f} | {b['delete'][0]:8.2f}")
    print(f"worst p95 per segment: {worst:.3f} ms (target: well under 5 ms)")
    if not args.no_gui:
        print("\nimage view, radius 10: segment + update_mask_region | mask item render (ms)")
        for n in args.sizes:
            b = bench_view(n, 10)
            print(f"{n}x{n:<5} edit median {b['edit'][0]:6.2f} p95 {b['edit'][1]:6.2f} | "
                  f"render median {b['render'][0]:6.2f} p95 {b['render'][1]:6.2f}")
    return 0 if worst < 5.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
