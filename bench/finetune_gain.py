"""Does fine-tuning on a few expert-corrected frames help on the others? Through the GUI's own path.

Imports the labelme annotations of ../shared/data/cleavage-embryo into an
annotation store (``main.py annotations import``), fine-tunes a model on
some frames (default RUN141, RUN142) with ``app.core.finetune`` (snapshot
stores, ``main.py train`` and ``main.py evaluate`` subprocesses, the
promotion rule, a registry), and reports fragment Dice, fraction MAE and
quadratic κ before and after on the remaining frames (RUN156, RUN157), with
wall times. All four frames are ONE embryo, so the split is by frame here,
not by embryo as in the app: the numbers say whether the path works and
moves the model, not how well it generalises.

    python bench/finetune_gain.py [--model CKPT] [--epochs 6] [--threads 2]

The registry used is a temporary one in the work folder (the user's is untouched).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core import finetune as F  # noqa: E402
from app.core.registry import Registry, active_model_path  # noqa: E402
from bench.machine import describe  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "cleavage-embryo"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--model", type=Path, help="start model (default: the active / bundled model)")
    ap.add_argument("--val-runs", default="156,157", help="frames to validate on; the others train")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=8, help="at most this many steps per epoch")
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--synthetic", type=int, default=0, help="synthetic frames mixed in per epoch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-tta", action="store_true")
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, help="write the numbers here")
    args = ap.parse_args(argv)

    model = args.model or active_model_path()
    if not model.is_file():
        print(f"no model at {model}: train one (resources/models/default.pt) or pass --model", file=sys.stderr)
        return 2
    from model.checkpoint import read_checkpoint_payload

    _, meta, _ = read_checkpoint_payload(model)
    seen = [d for d in meta.get("data", []) if args.data.name in str(d)]
    work = args.work or Path(tempfile.mkdtemp(prefix="eg-finetune-gain-"))
    store = work / "annotations.h5"
    print(describe())
    print(f"model {model}\nwork folder {work}")
    if seen:
        print(f"WARNING: the start model was trained on {seen}: 'before' is not a held-out number. "
              "Start from a model that never saw these frames (e.g. the synthetic-only run) to measure the gain.")
    print("NOTE: all frames are one embryo (WELL06): the train/validation split is by FRAME here, "
          "overriding the app's split by embryo.")

    t0 = time.monotonic()
    subprocess.run([sys.executable, str(ROOT / "main.py"), "annotations", "import", "--from",
                    str(args.data / "labelme"), "--store", str(store), "--images", str(args.data / "images"),
                    "--annotator", "bench"], check=True, stdout=subprocess.DEVNULL)
    t_import = time.monotonic() - t0

    def frame_key(path: str) -> str:
        return Path(path).stem

    val_runs = {f"RUN{r.strip()}" for r in args.val_runs.split(",")}
    samples = F.read_samples(store, frame_key)
    val_keys = [s.key for s in samples if s.key.rsplit("_", 1)[-1] in val_runs]
    reg = Registry(work / "registry", bundled=model)
    settings = F.TrainSettings(epochs=args.epochs, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                               synthetic=args.synthetic, threads=args.threads, workers=0, device="cpu",
                               tta=not args.no_tta)
    session = F.FineTuneSession(store, work / "run", reg, settings, val_keys=val_keys, key_fn=frame_key)
    t1 = time.monotonic()
    plan = session.prepare()
    print(plan.summary().replace("embryos", "frames"))
    print(f"train: {[s.key for s in plan.train]}\nvalidate: {plan.val_keys}")
    t_prep = time.monotonic() - t1

    marks = {"train_start": time.monotonic()}

    def on_event(ev):
        if ev["event"] == "epoch":
            print(f"  epoch {ev['epoch']}/{ev['epochs']} loss {ev['train_loss']:.4f} "
                  f"val Dice {ev['val'].get('fragment_dice', float('nan')):.3f} "
                  f"MAE {ev['val'].get('fraction_mae_pts_mask', float('nan')):.2f}", flush=True)
        elif ev["event"] == "done":
            marks["train_end"] = time.monotonic()

    cmp_ = F.run_blocking(session, on_event)
    t_end = time.monotonic()
    t_train = marks.get("train_end", t_end) - marks["train_start"]
    activated, msg = session.decide(accept=True)

    rows = [("fragment Dice", "fragment_dice", "{:.3f}"), ("fraction MAE (points)", "fraction_mae_pts_mask", "{:.2f}"),
            ("quadratic kappa", "grade_kappa_quadratic", "{:.3f}"), ("grade accuracy", "grade_accuracy", "{:.3f}")]
    print(f"\n{'on ' + ', '.join(sorted(val_runs)):24s} {'before':>8s} {'after':>8s}")
    for name, key, spec in rows:
        a, c = cmp_.active.get(key), cmp_.candidate.get(key)
        print(f"{name:24s} {'-' if a is None else spec.format(a):>8s} {'-' if c is None else spec.format(c):>8s}")
    names = {s.sha256[:12]: s.key.rsplit("_", 1)[-1] for s in plan.val}
    per = {}
    for which in ("active", "candidate"):
        for r in session.load_evaluation(which)["images"]:
            per.setdefault(names.get(r["source"].rsplit("#", 1)[-1], r["source"]), {})[which] = \
                (r["true_pct"], r["mask_pct"])
    for frame, d in sorted(per.items()):
        (t, a), (_, c) = d["active"], d["candidate"]
        print(f"  {frame}: true {t:.1f} %, before {a:.1f} %, after {c:.1f} %")
    print(f"promotion rule: {msg}")
    print(f"wall time: import {t_import:.1f} s, snapshot {t_prep:.1f} s, training {t_train:.1f} s, "
          f"both evaluations {t_end - marks.get('train_end', t_end):.1f} s, total {t_end - t0:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"before": cmp_.active, "after": cmp_.candidate, "activated": activated,
                                         "message": msg, "train_s": t_train, "total_s": t_end - t0,
                                         "settings": vars(settings)}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
