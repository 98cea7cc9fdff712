"""GUI latency bench: what the user feels in the review window.

Measures, offscreen (QT_QPA_PLATFORM=offscreen unless a display is set):
  1. "next image" to overlay shown, uncached (the model runs) and cached;
  2. the longest event-loop stall while the model grades a folder on the CPU
     (a 5 ms QTimer records the gaps between its ticks);
  3. the time to open a folder of 10,000 (empty) image files;
  4. resident memory after browsing 1,000 images (should stay flat).

    .venv/bin/python bench/gui_latency.py [--model PATH] [--size 480] [--browse 1000]

Without --model it uses resources/models/default.pt, else an untrained network
of the product configuration (same cost per image as the trained one).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402,F401  (before Qt)


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_images(folder: Path, n: int, size: int) -> list[Path]:
    import cv2
    import numpy as np

    from app.core.imaging import write_png

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        img = np.full((size, size), 150, np.float32)
        cv2.circle(img, (size // 2, size // 2), size // 3, 90, -1)
        for _ in range(6):
            x, y = rng.integers(size // 4, 3 * size // 4, 2)
            cv2.circle(img, (int(x), int(y)), int(rng.integers(4, size // 10)), 60, -1)
        img += rng.normal(0, 8, img.shape)
        p = folder / f"E{i:05d}.png"
        write_png(p, np.clip(img, 0, 255).astype(np.uint8))
        out.append(p)
    return out


def wait_for(app, cond, timeout: float = 120.0) -> float:
    t0 = time.perf_counter()
    while not cond():
        app.processEvents()
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("condition not met")
        time.sleep(0.0005)
    return time.perf_counter() - t0


class StallMeter:
    def __init__(self, interval_ms: int = 5):
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.max_gap = 0.0

    def _tick(self):
        now = time.perf_counter()
        if self.last is not None:
            self.max_gap = max(self.max_gap, now - self.last)
        self.last = now

    def start(self):
        self.last, self.max_gap = None, 0.0
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return self.max_gap


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--size", type=int, default=480)
    ap.add_argument("--browse", type=int, default=1000)
    ap.add_argument("--grade", type=int, default=12, help="images graded for the stall measure")
    args = ap.parse_args()

    from bench.machine import describe
    from model.checkpoint import save_checkpoint
    from model.config import named_config
    from model.network import AttnRegDeepLab

    tmp = Path(tempfile.mkdtemp(prefix="eg-gui-bench-"))
    os.environ["EMBRYOGRADE_DATA_DIR"] = str(tmp / "userdata")
    model = args.model or (ROOT / "resources" / "models" / "default.pt")
    if not Path(model).is_file():
        torch.manual_seed(0)
        model = tmp / "untrained.pt"
        save_checkpoint(model, AttnRegDeepLab(named_config("attnregdeeplab")), {"bench": True})
        model_note = "untrained product configuration"
    else:
        model_note = str(model)

    from app.gui.app import get_app

    app = get_app()
    from app.gui.main_window import MainWindow
    from app.gui.settings import Settings

    win = MainWindow(settings=Settings(tmp / "bench.ini"), device="cpu", model_path=str(model))
    win.resize(1400, 850)
    win.show()
    failed = []
    win.model_choice.failed.connect(failed.append)
    wait_for(app, lambda: win.controller.predictor is not None or failed)
    pred = win.controller.predictor
    if pred is None:
        print("model failed to load:", failed)
        return 1
    print(describe())
    print(f"model: {model_note}, version {pred.version}, input {pred.config.input_size}, "
          f"torch threads {pred.threads}")
    print(f"images: {args.size}x{args.size} gray PNG")
    rows = []

    # 1. next image -> overlay shown
    folder = tmp / "grade"
    make_images(folder, max(args.grade, 8), args.size)
    shown = []
    win.controller.prediction_shown.connect(lambda p: shown.append((time.perf_counter(), p)))
    win.queue.prefetch_count = 0  # uncached means uncached
    win.open_folder(folder)
    wait_for(app, lambda: shown)
    wait_for(app, lambda: not win.queue.busy)
    uncached = []
    for _ in range(3):
        shown.clear()
        t0 = time.perf_counter()
        win.folder_panel.step(1)
        wait_for(app, lambda: shown and shown[-1][1] == win.folder_panel.current_path())
        uncached.append(shown[-1][0] - t0)
        wait_for(app, lambda: not win.queue.busy)
    cached = []
    for d in (-1, -1, 1, 1, -1, 1):
        shown.clear()
        t0 = time.perf_counter()
        win.folder_panel.step(d)
        wait_for(app, lambda: shown and shown[-1][1] == win.folder_panel.current_path())
        cached.append(shown[-1][0] - t0)
    rows.append(("next image → overlay, uncached (median)", sorted(uncached)[1] * 1e3, "ms", "(model time)"))
    rows.append(("next image → overlay, cached (max)", max(cached) * 1e3, "ms", "≤ 50 ms"))

    # 2. stall while grading the folder
    win.queue.prefetch_count = 3
    meter = StallMeter(5)
    done = []
    win.queue.batch_finished.connect(lambda c: done.append(c))
    for e in win.folder_panel.model.entries:  # forget the results so "grade all" really grades
        e.clear_prediction()
    win.controller.cache.__init__(folder, memory_items=0)  # fresh object
    import shutil

    shutil.rmtree(win.controller.cache.root, ignore_errors=True)
    win.controller.cache.root.mkdir(parents=True, exist_ok=True)
    meter.start()
    t0 = time.perf_counter()
    win.grade_all()
    wait_for(app, lambda: done, timeout=600)
    total = time.perf_counter() - t0
    stall = meter.stop()
    n = len(win.folder_panel.model.entries)
    rows.append((f"longest event-loop stall while grading {n} images", stall * 1e3, "ms", "≤ 50 ms"))
    rows.append(("grading throughput", total / n * 1e3, "ms/image", ""))

    # 3. open a folder of 10,000 files
    big = tmp / "big"
    big.mkdir()
    for i in range(10_000):
        (big / f"D2024.01.01_S1_I1_WELL{i % 12}_RUN{i}.png").touch()
    t0 = time.perf_counter()
    win.open_folder(big)
    app.processEvents()
    rows.append(("open a folder of 10,000 images", (time.perf_counter() - t0) * 1e3, "ms", "≤ 1000 ms"))

    # 4. memory while browsing (hard links of a few real images: the model runs for each distinct one)
    browse = tmp / "browse"
    browse.mkdir()
    src = sorted(folder.glob("*.png"))
    for i in range(args.browse):
        os.link(src[i % len(src)], browse / f"B{i:05d}.png")
    win.open_folder(browse)
    wait_for(app, lambda: shown and win.folder_panel.current_path() is not None)
    marks = {}
    for i in range(args.browse - 1):
        shown.clear()
        win.folder_panel.step(1)
        cur = win.folder_panel.current_path()
        wait_for(app, lambda cur=cur: shown and shown[-1][1] == cur, timeout=60)
        if i + 1 in (100, args.browse // 2, args.browse - 1):
            marks[i + 1] = rss_mb()
    ks = sorted(marks)
    rows.append((f"resident memory after {ks[0]} / {ks[1]} / {ks[2]} images",
                 marks[ks[-1]], "MB", f"flat: {marks[ks[0]]:.0f} / {marks[ks[1]]:.0f} / {marks[ks[2]]:.0f}"))

    print()
    print(f"{'measure':58s} {'value':>10s}  target")
    for name, v, unit, target in rows:
        print(f"{name:58s} {v:8.1f} {unit:8s} {target}")
    win.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
