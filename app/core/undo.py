"""Undo history of a class mask as bounding-box deltas (see docs/adr/0004-undo-deltas.md). Qt-free.

One atom per user gesture (a whole brush stroke, a polygon, a fill, a reset):
the box of changed pixels, which of its pixels changed (bit-packed) and their
old and new values. A full-mask snapshot per step would cost 16 MiB on a
4096x4096 image; a typical stroke's atom is a few KiB, so 100+ steps per image
fit easily and several images can keep their history at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from app.core.brush import BBox

DEFAULT_MAX_STEPS = 200
DEFAULT_MAX_BYTES = 128 * 2**20


@dataclass(frozen=True)
class Delta:
    """One undoable change. ``old``/``new`` hold values of changed pixels only, in C order."""

    box: BBox
    packed: np.ndarray  # np.packbits of the box's boolean "changed" mask
    old: np.ndarray
    new: np.ndarray
    kind: str = "edit"

    @classmethod
    def from_regions(cls, box: BBox, before: np.ndarray, after: np.ndarray,
                     kind: str = "edit") -> Delta | None:
        """Delta between two copies of the same box; None when nothing changed."""
        changed = before != after
        if not changed.any():
            return None
        # Shrink to the changed pixels so the reported dirty box is tight.
        rows = np.flatnonzero(changed.any(axis=1))
        cols = np.flatnonzero(changed.any(axis=0))
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        changed = changed[r0:r1, c0:c1]
        tight = BBox(box.y0 + r0, box.y0 + r1, box.x0 + c0, box.x0 + c1)
        return cls(tight, np.packbits(changed), before[r0:r1, c0:c1][changed].copy(),
                   after[r0:r1, c0:c1][changed].copy(), kind)

    @property
    def changed(self) -> np.ndarray:
        h, w = self.box.shape
        return np.unpackbits(self.packed, count=h * w).reshape(h, w).view(bool)

    @property
    def nbytes(self) -> int:
        return self.packed.nbytes + self.old.nbytes + self.new.nbytes + 200

    def apply(self, mask: np.ndarray, backwards: bool) -> tuple[np.ndarray, np.ndarray]:
        """Write old (undo) or new (redo) values; returns (values removed, values written)."""
        region = mask[self.box.slices]
        src, dst = (self.new, self.old) if backwards else (self.old, self.new)
        region[self.changed] = dst
        return src, dst


class History:
    """Bounded undo/redo stacks of Deltas for one image.

    Bounded by steps and by bytes: the oldest steps fall off first, so one huge
    "reset to model mask" cannot pin hundreds of MiB. A new edit clears redo,
    as every editor does.
    """

    def __init__(self, max_steps: int = DEFAULT_MAX_STEPS, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_steps = max_steps
        self.max_bytes = max_bytes
        self._undo: deque[Delta] = deque()
        self._redo: list[Delta] = []
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_kind(self) -> str | None:
        return self._undo[-1].kind if self._undo else None

    @property
    def redo_kind(self) -> str | None:
        return self._redo[-1].kind if self._redo else None

    def __len__(self) -> int:
        return len(self._undo)

    def push(self, delta: Delta) -> None:
        self._bytes -= sum(d.nbytes for d in self._redo)
        self._redo.clear()
        self._undo.append(delta)
        self._bytes += delta.nbytes
        self._trim()

    def pop_undo(self) -> Delta | None:
        if not self._undo:
            return None
        d = self._undo.pop()
        self._redo.append(d)
        return d

    def pop_redo(self) -> Delta | None:
        if not self._redo:
            return None
        d = self._redo.pop()
        self._undo.append(d)
        return d

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._bytes = 0

    def _trim(self) -> None:
        # Keep at least the newest step even if it alone exceeds the byte budget.
        while len(self._undo) > 1 and (len(self._undo) > self.max_steps
                                       or self._bytes > self.max_bytes):
            self._bytes -= self._undo.popleft().nbytes
