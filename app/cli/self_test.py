"""`EmbryoGrade --self-test`: a headless check that an installation can grade.

Run by the installer builds on the built bundle, by the opt-in installer
test, and by a lab after installing (docs/installing.md). It never imports
Qt: it must pass on a server without a display, and a Qt failure would hide
the model's. The Qt plugins are checked as files instead, which catches the
commonest broken bundle (no ``platforms`` plugin) without loading them.

Each step prints ``[ OK ]``, ``[FAIL]`` or ``[SKIP]`` with its time; the exit
status is 0 only if every step passed. A skipped step counts as failed: it
was skipped because something it needs failed.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from app.core import resources
from app.version import APP_NAME, __version__

# A relaunch imports torch again; a cold disk on a lab PC can take a minute.
RELAUNCH_TIMEOUT_S = 180


class _Skip(Exception):
    pass


class _Runner:
    def __init__(self, out):
        self.out = out
        self.failed = 0
        self.ctx: dict = {}

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def step(self, name: str, fn: Callable[[], str | None], needs: tuple[str, ...] = ()) -> None:
        missing = [n for n in needs if n not in self.ctx]
        t0 = time.perf_counter()
        try:
            if missing:
                raise _Skip(f"needs {', '.join(missing)}")
            detail = fn() or ""
            status = " OK "
        except _Skip as exc:
            status, detail = "SKIP", str(exc)
            self.failed += 1
        except Exception as exc:  # noqa: BLE001  (a self-test reports every fault, never crashes)
            status, detail = "FAIL", f"{type(exc).__name__}: {exc}"
            self.failed += 1
            if os.environ.get("EMBRYOGRADE_SELF_TEST_TRACE"):
                detail += "\n" + traceback.format_exc()
        dt = time.perf_counter() - t0
        self.say(f"[{status}] {name:<22} {dt:7.2f} s  {detail}".rstrip())


# -- steps -----------------------------------------------------------------------------------
def _environment(r: _Runner) -> str:
    import numpy as np
    import torch

    from model.device import available_devices

    r.ctx["torch"] = torch
    devices = ", ".join(available_devices())
    cuda = f", CUDA {torch.version.cuda}" if torch.version.cuda else ""
    return (f"Python {platform.python_version()}, torch {torch.__version__}{cuda}, "
            f"numpy {np.__version__}, devices: {devices}")


def _image_io(r: _Runner) -> str:
    import cv2

    return f"OpenCV {cv2.__version__}"


def _qt_plugins(r: _Runner) -> str:
    """The Qt platform and image plugins are on disk where PySide6 looks (Qt is not loaded)."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("PySide6 is not installed or not bundled")
    base = Path(list(spec.submodule_search_locations)[0])
    # wheels: PySide6/Qt/plugins (Linux, macOS), PySide6/plugins (Windows); bundles keep it
    plugins = next((p for p in (base / "Qt" / "plugins", base / "plugins") if p.is_dir()), None)
    if plugins is None:
        raise RuntimeError(f"no Qt plugins folder under {base}")
    want = {"linux": ("offscreen", "xcb"), "win32": ("windows", "offscreen"),
            "darwin": ("cocoa", "offscreen")}.get(sys.platform, ("offscreen",))
    have = {p.name for p in (plugins / "platforms").glob("*")}
    missing = [w for w in want if not any(w in h for h in have)]
    if missing:
        raise RuntimeError(f"platform plugin(s) {', '.join(missing)} missing in {plugins / 'platforms'}")
    formats = sorted(p.name for p in (plugins / "imageformats").glob("*"))
    tiff = any("tiff" in f for f in formats)
    return f"platforms {', '.join(want)} present, {len(formats)} image formats (TIFF: {tiff})"


def _locate_model(r: _Runner) -> str:
    path = resources.default_model_path()
    source = f"${resources.MODEL_ENV}" if os.environ.get(resources.MODEL_ENV, "").strip() else "bundled"
    if not path.is_file():
        hint = "" if source != "bundled" else f" (set {resources.MODEL_ENV} to a checkpoint to test with it)"
        raise FileNotFoundError(f"{source} model {path} not found{hint}")
    r.ctx["model_path"] = path
    return f"{source}: {path} ({path.stat().st_size / 1e6:.1f} MB)"


def _load_model(r: _Runner) -> str:
    from model.predictor import Predictor

    device = os.environ.get("EMBRYOGRADE_DEVICE", "auto")
    pred = Predictor.from_checkpoint(r.ctx["model_path"], device=device)
    r.ctx["predictor"] = pred
    cfg = pred.config
    return (f"version {pred.version}, input {cfg.input_size}px, device {pred.device}, "
            f"{pred.threads} CPU thread(s)")


def _read_demo(r: _Runner) -> str:
    from app.core.imaging import list_images, read_image

    folder = resources.demo_images_dir()
    images = list_images(folder)
    if not images:
        raise FileNotFoundError(f"no demo images in {folder}")
    path = images[0]
    img = read_image(path)
    r.ctx["image_path"], r.ctx["image"] = path, img
    return f"{path.name} {img.shape[1]}x{img.shape[0]} {img.dtype} ({len(images)} demo images)"


def _grade(r: _Runner) -> str:
    from model.grading import get_scheme

    pred = r.ctx["predictor"].predict(r.ctx["image"])
    img = r.ctx["image"]
    if pred.class_mask.shape != img.shape[:2]:
        raise ValueError(f"mask {pred.class_mask.shape} does not match the image {img.shape[:2]}")
    if not 0.0 <= pred.fraction_mask <= 1.0:
        raise ValueError(f"fraction {pred.fraction_mask} outside [0, 1]")
    if pred.grade not in {get_scheme(pred.scheme).grade(p) for p in range(0, 101)}:
        raise ValueError(f"grade {pred.grade!r} is not a grade of {pred.scheme}")
    r.ctx["prediction"] = pred
    return f"{pred.fragment_pct_mask:.1f} % fragmentation, {pred.scheme} grade {pred.grade}"


def _write_report(r: _Runner) -> str:
    from app.core.imaging import sha256_file
    from app.core.report import make_row, write_report

    path = Path(r.ctx["tmp"]) / "self-test-report.csv"
    image = r.ctx["image_path"]
    row = make_row(image.name, sha256_file(image), r.ctx["prediction"], patient_id="self-test")
    summary = write_report(path, [row])
    if summary["rows"] != 1:
        raise ValueError(f"summary counts {summary['rows']} rows, expected 1")
    r.ctx["report"] = path
    return f"{path} ({path.stat().st_size} bytes)"


def _check_report(r: _Runner) -> str:
    from app.core.report import read_report

    first, rows = read_report(r.ctx["report"])
    pred = r.ctx["prediction"]
    if APP_NAME not in first:
        raise ValueError(f"first line {first!r} does not name {APP_NAME}")
    if len(rows) != 1:
        raise ValueError(f"{len(rows)} rows read back, expected 1")
    row = rows[0]
    problems = []
    if row["image"] != r.ctx["image_path"].name:
        problems.append(f"image {row['image']!r}")
    if row["final_grade"] != pred.grade:
        problems.append(f"grade {row['final_grade']!r} != {pred.grade!r}")
    if abs(float(row["final_fragment_pct"]) - pred.fragment_pct_mask) > 0.01:
        problems.append(f"% {row['final_fragment_pct']} != {pred.fragment_pct_mask:.2f}")
    if row["model_version"] != pred.model_version:
        problems.append(f"model version {row['model_version']!r}")
    if problems:
        raise ValueError("read back differs: " + "; ".join(problems))
    return f"1 row, grade {row['final_grade']}, {row['final_fragment_pct']} %"


def _relaunch(r: _Runner) -> str:
    """The app can start itself with a sub-command, as the GUI's fine-tuning does."""
    cmd = resources.app_command("train", "--help")
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    kw = {"creationflags": subprocess.CREATE_NO_WINDOW} if sys.platform == "win32" else {}
    p = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace",
                       timeout=RELAUNCH_TIMEOUT_S, env=env, stdin=subprocess.DEVNULL, **kw)
    if p.returncode != 0 or "--data" not in p.stdout:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"`{' '.join(cmd)}` exited {p.returncode}: {' | '.join(tail)}")
    return " ".join(Path(cmd[0]).name if i == 0 else c for i, c in enumerate(cmd))


# -- entry -----------------------------------------------------------------------------------
def _stdout():
    # A windowed Windows build has no stdout; keep the result somewhere a user can find.
    if sys.stdout is not None:
        return sys.stdout, None
    from app.core.project_dir import user_data_root

    log = user_data_root() / "self-test.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    f = open(log, "w", encoding="utf-8")  # noqa: SIM115  (closed in run_self_test)
    return f, f


def run_self_test(relaunch: bool = True) -> int:
    out, to_close = _stdout()
    r = _Runner(out)
    frozen = "frozen bundle" if resources.is_frozen() else "from source"
    r.say(f"{APP_NAME} {__version__} self-test ({frozen}, {platform.system()} {platform.machine()}, "
          f"resources: {resources.resources_dir()})")
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="embryograde-selftest-") as tmp:
            r.ctx["tmp"] = tmp
            r.step("environment", lambda: _environment(r))
            r.step("image codecs", lambda: _image_io(r))
            r.step("Qt plugins (files)", lambda: _qt_plugins(r))
            r.step("locate model", lambda: _locate_model(r))
            r.step("load model", lambda: _load_model(r), needs=("model_path",))
            r.step("read demo image", lambda: _read_demo(r))
            r.step("grade demo image", lambda: _grade(r), needs=("predictor", "image"))
            r.step("write CSV report", lambda: _write_report(r), needs=("prediction",))
            r.step("read report back", lambda: _check_report(r), needs=("report",))
            if relaunch:
                r.step("relaunch (train)", lambda: _relaunch(r))
        ok = r.failed == 0
        r.say(f"self-test {'PASSED' if ok else f'FAILED ({r.failed} step(s))'} "
              f"in {time.perf_counter() - t0:.1f} s")
        return 0 if ok else 1
    finally:
        if to_close is not None:
            to_close.close()
