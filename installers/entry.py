"""The frozen app's entry point (PyInstaller runs this, not main.py directly).

It exists so that what only a frozen app needs stays out of main.py:

- ``multiprocessing.freeze_support()`` must run before anything else. On
  Windows and macOS the training DataLoader's workers are spawned by
  relaunching the executable with ``--multiprocessing-fork``; without it
  that relaunch would reach argparse and every worker would die.
  PyInstaller's own runtime hook makes it work on every platform.
- macOS versions before 10.9 passed ``-psn_<id>`` to apps started from the
  Finder; argparse would refuse it.
- ``TORCHDYNAMO_DISABLE=1``: a bundle has no C compiler, so an accidental
  ``torch.compile`` must stay a no-op instead of failing mid-training.

``main`` imports torch before anything can import Qt (WinError 1114).
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def _start_method() -> None:
    # Test knob: EMBRYOGRADE_MP_START=spawn makes a Linux build start its
    # workers the way Windows and macOS do, so the relaunch path is tested here.
    method = os.environ.get("EMBRYOGRADE_MP_START", "").strip()
    if method:
        multiprocessing.set_start_method(method, force=True)


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.argv = [a for a in sys.argv if not a.startswith("-psn_")]
    _start_method()
    os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")

    import main

    sys.exit(main.main())
