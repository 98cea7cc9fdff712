"""Render the review window grading the demo images and save docs/screenshot.png.

    .venv/bin/python tools/screenshot.py [--out docs/screenshot.png] [--model PATH] [--image NAME]

Runs offscreen (QT_QPA_PLATFORM=offscreen) unless a display is present, e.g.
under ``xvfb-run -a .venv/bin/python tools/screenshot.py``. Uses the bundled
model when it exists; otherwise an untrained network (the masks are then
meaningless, and the window says which model it shows).
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


def wait_for(app, cond, timeout=300.0):
    t0 = time.perf_counter()
    while not cond():
        app.processEvents()
        time.sleep(0.005)
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("timed out")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--folder", default=str(ROOT / "resources" / "samples"))
    ap.add_argument("--image", default=None, help="file name to show (default: the third)")
    ap.add_argument("--attention", type=float, default=0.0, help="opacity of the stride-4 gate map")
    ap.add_argument("--size", default="1600x1000")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="eg-shot-"))
    os.environ.setdefault("EMBRYOGRADE_DATA_DIR", str(tmp / "userdata"))
    model = Path(args.model) if args.model else ROOT / "resources" / "models" / "default.pt"
    if not model.is_file():
        from model.checkpoint import save_checkpoint
        from model.config import named_config
        from model.network import AttnRegDeepLab

        torch.manual_seed(0)
        model = tmp / "untrained.pt"
        save_checkpoint(model, AttnRegDeepLab(named_config("attnregdeeplab")), {"note": "untrained"})
        print("no bundled model: showing an UNTRAINED network", file=sys.stderr)

    from app.gui.app import get_app

    app = get_app()
    from app.gui.app import create_window
    from app.gui.settings import Settings

    win = create_window(settings=Settings(tmp / "shot.ini"), device="cpu", model=str(model))
    w, h = (int(v) for v in args.size.split("x"))
    win.resize(w, h)
    win.show()
    wait_for(app, lambda: win.controller.predictor is not None)
    win.open_folder(args.folder)
    done = []
    win.queue.batch_finished.connect(done.append)
    win.grade_all()
    wait_for(app, lambda: done or not win.queue.busy)
    entries = win.folder_panel.model.entries
    target = next((e.path for e in entries if e.name == args.image), entries[min(2, len(entries) - 1)].path)
    win.folder_panel.select_path(target)
    wait_for(app, lambda: win.controller.current_prediction is not None and win.view.mask is not None)
    if args.attention:
        win.overlay_controls.att_sliders["gate_stride4"].setValue(int(args.attention * 100))
    if "untrained" in model.name:
        win.show_message("UNTRAINED network (no bundled model yet): the masks are meaningless")
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ok = win.grab().save(str(out))
    print(f"{'saved' if ok else 'FAILED to save'} {out} ({win.width()}x{win.height()}, "
          f"platform {app.platformName()})")
    win.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
