"""PySide6 6.12: emit() steals a reference of True; app.gui must keep the process alive anyway."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import app.gui  # applies the workaround
from PySide6.QtCore import QObject, Signal

class S(QObject):
    s = Signal(object)

o = S()
o.s.connect(lambda v: None)
for _ in range(200_000):
    o.s.emit(None)
print("alive")
"""


def test_many_emits_do_not_kill_the_process():
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and "alive" in out.stdout, out.stderr[-2000:]
