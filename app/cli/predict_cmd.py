"""``predict``: grade a few images and print (or write) the numbers.

Exit status: 0 all graded, 1 some image failed (the others are still
graded and written), 2 no usable model or bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.version import RESEARCH_NOTICE

EXIT_PARTIAL, EXIT_UNUSABLE = 1, 2


class ModelUnavailable(Exception):
    """No model to grade with; the message says why and what to do."""


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``predict`` and ``grade``."""
    from model.grading import DEFAULT_SCHEME, SCHEMES

    parser.add_argument("--model", type=Path, default=None,
                        help="model checkpoint (default: the active model of `main.py models`, "
                        "else the bundled resources/models/default.pt)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                        help="compute device (default: auto = CUDA, then MPS, then CPU)")
    parser.add_argument("--scheme", default=DEFAULT_SCHEME, choices=sorted(SCHEMES),
                        help=f"grading scheme (default: {DEFAULT_SCHEME})")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for the model (default: all cores but one)")


def load_predictor(path: Path, device: str = "auto", threads: int | None = None):
    from app.core.registry import active_model_path
    from app.core.resources import bundled_model_path
    from model.checkpoint import CheckpointError
    from model.predictor import Predictor

    path = Path(path) if path is not None else active_model_path()
    if not path.is_file():
        hint = " (the default model is not installed; pass --model CHECKPOINT)" \
            if path.resolve() == bundled_model_path().resolve() else ""
        raise ModelUnavailable(f"no model: {path} does not exist{hint}")
    try:
        return Predictor.from_checkpoint(path, device=device, threads=threads)
    except CheckpointError as exc:
        raise ModelUnavailable(f"no usable model: {exc}") from None
    except (RuntimeError, ValueError) as exc:  # e.g. --device cuda on a machine without it
        raise ModelUnavailable(f"cannot use the model on device {device!r}: {exc}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files")
    add_model_arguments(parser)
    parser.add_argument("--json", type=Path, metavar="OUT",
                        help="write a JSON list with one object per graded image")
    parser.add_argument("--masks", type=Path, metavar="DIR",
                        help="write DIR/<image stem>.png masks (0 background, 1 blastomere, 2 fragment)")


def _fmt(x, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _table(results: list[tuple[str, dict]], scheme: str) -> str:
    head = ("image", "mask %", "regr. %", "grade", "± pts", "borderline", "disagree")
    body = [(name, _fmt(s["fragment_pct_mask"]), _fmt(s["fragment_pct_regression"]), s["grade"],
             _fmt(s["uncertainty"]), "yes" if s["borderline"] else "no",
             "yes" if s["disagreement"] else "no") for name, s in results]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [head, *body]]
    for name, s in results:
        lines += [f"  {name}: {w}" for w in s["warnings"]]
    lines.append(f"{RESEARCH_NOTICE}. Fragmentation = projected area fragment/(blastomere+fragment); "
                 f"grades: {scheme} scheme of the mask %.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from app.core.imaging import ImageReadError, read_image, write_png

    try:
        predictor = load_predictor(args.model, args.device, args.threads)
    except ModelUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    if args.masks is not None:
        args.masks.mkdir(parents=True, exist_ok=True)
    results: list[tuple[str, dict]] = []
    failed = 0
    stems: set[str] = set()
    for path in args.images:
        try:
            pred = predictor.predict(read_image(path), scheme=args.scheme)
        except ImageReadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        except (ValueError, TypeError) as exc:
            print(f"error: {path}: cannot be graded ({exc})", file=sys.stderr)
            failed += 1
            continue
        results.append((str(path), {"image": str(path), **pred.summary()}))
        if args.masks is not None:
            if path.stem in stems:
                print(f"warning: {path}: a mask named {path.stem}.png was already written in this "
                      "run; it is replaced", file=sys.stderr)
            stems.add(path.stem)
            write_png(args.masks / f"{path.stem}.png", pred.class_mask.astype("uint8"))
    if results:
        print(_table(results, args.scheme))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([s for _, s in results], indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    if failed:
        print(f"{failed} of {len(args.images)} image(s) could not be graded", file=sys.stderr)
        return EXIT_PARTIAL
    return 0
