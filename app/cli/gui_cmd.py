"""`main.py gui [FOLDER]`: open the review window. Qt is imported only inside run()."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", nargs="?", default=None,
                        help="folder of embryo images (default: the bundled demo images)")
    parser.add_argument("--model", default=None,
                        help="model checkpoint (.pt); default: the bundled model, or the last one chosen")
    parser.add_argument("--device", default=None, choices=("auto", "cpu", "cuda", "mps"),
                        help="compute device (default: the last one chosen, else auto)")


def run(args: argparse.Namespace) -> int:
    import torch  # noqa: F401  (before Qt, see main.py)

    from app.gui.app import run_gui

    return int(run_gui(folder=args.folder, model=args.model, device=args.device) or 0)
