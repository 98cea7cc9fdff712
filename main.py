"""EmbryoGrade entry point.

torch is imported before PySide6 on purpose: on Windows, importing torch
after Qt fails to load its DLLs (WinError 1114, pytorch #169429).
"""

from __future__ import annotations

import sys

import torch  # noqa: F401  (must precede any Qt import, see module docstring)


def main(argv: list[str] | None = None) -> int:
    from app.cli.dispatch import run

    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
