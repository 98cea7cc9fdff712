"""Command-line dispatch. Qt-free: only the `gui` command imports Qt.

Each sub-command lives in ``app/cli/<name>_cmd.py`` with
``add_arguments(parser)`` and ``run(args) -> int``; modules are imported only
when their command runs, so `python main.py grade` never loads Qt.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from app.version import APP_NAME, __version__

# command name -> (module, one-line help). Order is the order of --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("app.cli.gui_cmd", "open the review window (default)"),
    "synth": ("app.cli.synth_cmd", "generate synthetic embryo images with exact masks"),
    "predict": ("app.cli.predict_cmd", "grade images and print or write the results"),
    "grade": ("app.cli.grade_cmd", "grade a folder and write a CSV report"),
    "train": ("app.cli.train_cmd", "train or fine-tune a model"),
    "evaluate": ("app.cli.evaluate_cmd", "evaluate a model on a labelled data set"),
    "calibrate": ("app.cli.calibrate_cmd", "fit the shown uncertainty and the unusual-image score"),
    "annotations": ("app.cli.annotations_cmd", "import or export corrections"),
    "models": ("app.cli.models_cmd", "list, activate or roll back models"),
    "server": ("app.cli.server_cmd", "set up or upgrade the lab's PostgreSQL annotation store"),
}


def build_parser(commands: dict[str, tuple[str, str]] = COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embryograde",
        description=f"{APP_NAME} {__version__}: fragmentation grading of cleavage-stage "
        "embryos. For research use only.",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="headless check of the installation: load the model, grade a demo image, "
        "write a report; exit 0 only if all worked",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in commands.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module_name)
        module = importlib.import_module(module_name)
        module.add_arguments(p)
    return parser


def run(argv: list[str]) -> int:
    # A folder or image as the first argument (a drop on the app's icon, a
    # file association) opens it in the window.
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-") and os.path.exists(argv[0]):
        argv = ["gui", *argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test:
        from app.cli.self_test import run_self_test

        return run_self_test()
    if args.command is None:
        args = parser.parse_args(["gui", *argv])
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
