"""How far a training subprocess has got, from its stderr progress bar: epoch and step. Qt-free.

The trainer's JSON events arrive once per epoch, so a fine-tune of one or
two epochs showed an empty bar that jumped to 100 %. Its stderr bar
(``epoch 1/3 [stage] [###.....] 5/16 loss ...``, redrawn with ``\\r``) says
which step it is on; this reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BAR = re.compile(rb"epoch (\d+)/(\d+) \[[^\]]*\] \[[#.]*\] (\d+)/(\d+)")


@dataclass(frozen=True)
class StepProgress:
    epoch: int  # 1-based, the epoch being trained
    epochs: int
    step: int  # steps done in this epoch
    steps: int

    @property
    def fraction(self) -> float:
        return min(1.0, ((self.epoch - 1) + self.step / max(self.steps, 1)) / max(self.epochs, 1))

    def describe(self) -> str:
        return f"epoch {self.epoch}/{self.epochs} · step {self.step}/{self.steps}"


def split_bar(chunk: bytes) -> tuple[StepProgress | None, bytes]:
    """(the latest bar state in ``chunk``, the rest of ``chunk`` with bar redraws removed)."""
    latest, rest = None, []
    for piece in re.split(rb"(\r|\n)", chunk):
        m = _BAR.search(piece)
        if m:
            latest = StepProgress(*(int(g) for g in m.groups()))
        elif piece != b"\r":
            rest.append(piece)
    return latest, b"".join(rest)
