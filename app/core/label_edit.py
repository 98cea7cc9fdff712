"""Editing a 0/1/2 class mask: brush, polygon, fill, delete fragment, reset, undo. Qt-free.

``LabelEditor`` owns the live mask array (the view displays that same array),
its undo ``History`` and running pixel counts. Every change returns, and tells
its listeners, the dirty ``BBox`` so the view recolours only that box; the
counts are updated from the changed pixels, never by rescanning the mask, so
the corrected fragmentation % and grade follow the brush live.

Coordinates are (row, col) in pixel-index space (see ``app.core.brush``).
``EditorManager`` keeps one editor per image so the history survives moving
to another image and back, within a memory budget.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from app.core import brush, eraser, membranes
from app.core.brush import BBox
from app.core.undo import Delta, History
from model.grading import DEFAULT_SCHEME, get_scheme

BACKGROUND, BLASTOMERE, FRAGMENT = 0, 1, 2
CLASSES = (BACKGROUND, BLASTOMERE, FRAGMENT)


@dataclass(frozen=True)
class MaskStats:
    blastomere: int
    fragment: int
    scheme: str = DEFAULT_SCHEME

    @property
    def fraction(self) -> float:
        """fragment / (blastomere + fragment); NaN when neither is present."""
        cyto = self.blastomere + self.fragment
        return float("nan") if cyto == 0 else self.fragment / cyto

    @property
    def percent(self) -> float:
        return 100.0 * self.fraction

    @property
    def grade(self) -> str | None:
        pct = self.percent
        return None if pct != pct else get_scheme(self.scheme).grade(pct)


def _counts(values: np.ndarray) -> np.ndarray:
    return np.bincount(values.ravel(), minlength=3)[:3].astype(np.int64)


class LabelEditor:
    """Edits ``mask`` in place. Each gesture becomes one undo step."""

    def __init__(self, mask: np.ndarray, model_mask: np.ndarray | None = None, *,
                 scheme: str = DEFAULT_SCHEME, history: History | None = None):
        if mask.ndim != 2:
            raise ValueError(f"class mask must be 2-D, got shape {mask.shape}")
        self.mask = np.ascontiguousarray(mask, dtype=np.uint8)
        if self.mask is mask:
            self.mask = mask.copy()  # never edit the caller's (or the model's) array
        self.model_mask = model_mask
        self.scheme = scheme
        self.history = history if history is not None else History()
        self._counts = _counts(self.mask)  # the one full scan, at open
        self._listeners: list[Callable[[BBox], None]] = []
        self._stroke: list[tuple[BBox, np.ndarray, np.ndarray]] | None = None
        self._stroke_kind = "brush"
        self._before: np.ndarray | None = None  # the mask when an eraser stroke began
        self.version = 0  # bumps on every change; compare with saved_version for "unsaved"
        self.saved_version = 0

    # -- observers -------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[BBox], None]) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[BBox], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _changed(self, box: BBox) -> BBox:
        self.version += 1
        for fn in list(self._listeners):
            fn(box)
        return box

    # -- state -----------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.mask.shape

    @property
    def stats(self) -> MaskStats:
        return MaskStats(int(self._counts[BLASTOMERE]), int(self._counts[FRAGMENT]), self.scheme)

    @property
    def dirty(self) -> bool:
        return self.version != self.saved_version

    def mark_saved(self, version: int | None = None) -> None:
        self.saved_version = self.version if version is None else version

    @property
    def can_undo(self) -> bool:
        return self.history.can_undo or self.in_stroke

    @property
    def can_redo(self) -> bool:
        return self.history.can_redo and not self.in_stroke

    @property
    def in_stroke(self) -> bool:
        return self._stroke is not None

    def differs_from_model(self) -> bool:
        return self.model_mask is not None and not np.array_equal(self.mask, self.model_mask)

    # -- strokes ---------------------------------------------------------------------------
    def begin_stroke(self, kind: str = "brush") -> None:
        if self._stroke is not None:
            self.end_stroke()
        self._stroke = []
        self._stroke_kind = kind
        # The eraser reads what lay under a fragment from the mask as the stroke found it
        # (app/core/eraser.py); one copy per stroke, a few ms even at 4096².
        self._before = self.mask.copy() if kind == "eraser" else None

    def paint_segment(self, p0, p1, radius: float, value: int) -> BBox | None:
        """Sweep a round brush from p0 to p1 writing ``value``; the eraser writes 0."""
        _check_class(value)
        hit = brush.segment_disk(self.mask.shape, p0, p1, radius)
        return None if hit is None else self._write(hit[0], hit[1], value)

    def erase_segment(self, p0, p1, radius: float, only_fragment: bool = False) -> BBox | None:
        """The eraser swept from p0 to p1: an erased fragment gives back what lay under it
        (blastomere inside a cell, background outside), blastomere becomes background unless
        ``only_fragment``. Use ``paint_segment(..., BACKGROUND)`` to clear to background."""
        hit = brush.segment_disk(self.mask.shape, p0, p1, radius)
        if hit is None:
            return None
        box, disk = hit
        before = self._before if self._before is not None else self.mask
        return self._write(box, disk, eraser.erased_values(before, box, disk, radius, only_fragment))

    def end_stroke(self) -> Delta | None:
        """Fold the stroke's segments into one undo step."""
        delta = self._fold_stroke()
        if delta is not None:
            self.history.push(delta)
        return delta

    def abort_stroke(self) -> BBox | None:
        """Drop the stroke in progress, restoring its pixels (e.g. Esc mid-drag)."""
        delta = self._fold_stroke()
        if delta is None:
            return None
        self._apply(delta, backwards=True)
        return self._changed(delta.box)

    def _fold_stroke(self) -> Delta | None:
        stroke, self._stroke = self._stroke, None
        self._before = None
        if not stroke:
            return None
        union = stroke[0][0]
        for box, _, _ in stroke[1:]:
            union = union.union(box)
        after = self.mask[union.slices]
        before = after.copy()
        # Replay old values newest-first so each pixel ends with its value before the stroke.
        for box, changed, old in reversed(stroke):
            before[union.local(box)][changed] = old
        return Delta.from_regions(union, before, after, self._stroke_kind)

    def _write(self, box: BBox, hit: np.ndarray, value) -> BBox | None:
        """Write ``value`` (a class, or a ``box``-shaped array of classes) where ``hit``."""
        region = self.mask[box.slices]
        changed = hit & (region != value)
        if not changed.any():
            return None
        old = region[changed]
        new = value[changed] if isinstance(value, np.ndarray) else np.full(old.shape, value, np.uint8)
        self._counts += _counts(new) - _counts(old)
        region[changed] = new
        if self._stroke is not None:
            self._stroke.append((box, changed, old))
        else:  # a lone segment outside a stroke is still one undo step
            self._stroke = [(box, changed, old)]
            self.end_stroke()
        return self._changed(box)

    def stroke(self, points: Iterable, radius: float, value: int, kind: str = "brush") -> Delta | None:
        """A whole polyline stroke at once (scripts and tests)."""
        pts = [tuple(p) for p in points]
        self.begin_stroke(kind)
        for a, b in zip(pts, pts[1:] or pts):
            self.paint_segment(a, b, radius, value)
        return self.end_stroke()

    # -- one-shot gestures -----------------------------------------------------------------
    def fill_polygon(self, points, value: int) -> BBox | None:
        _check_class(value)
        hit = brush.polygon(self.mask.shape, points)
        return None if hit is None else self._gesture(hit[0], hit[1], value, "polygon")

    def flood_fill(self, row: int, col: int, value: int, connectivity: int = 4,
                   image: np.ndarray | None = None) -> BBox | None:
        """Give the connected same-class region under (row, col) the class ``value``; with
        ``image``, only the part of it up to the membranes seen in the image."""
        _check_class(value)
        hit = self.fill_region(row, col, connectivity, image)
        return None if hit is None else self._gesture(hit[0], hit[1], value, "fill")

    def fill_region(self, row: int, col: int, connectivity: int = 4,
                    image: np.ndarray | None = None) -> tuple[BBox, np.ndarray] | None:
        """What ``flood_fill`` would change, without changing it (to ask before a large fill)."""
        hit = brush.component(self.mask, row, col, connectivity)
        if hit is None or image is None or image.shape[:2] != self.mask.shape:
            return hit
        return hit[0], membranes.piece_under(image, hit[0], hit[1], (int(row), int(col)))

    def fill(self, box: BBox, hit: np.ndarray, value: int) -> BBox | None:
        """Apply a region from ``fill_region`` as one undo step."""
        _check_class(value)
        return self._gesture(box, hit, value, "fill")

    def embryo_pixels(self) -> int:
        return int(self._counts[BLASTOMERE] + self._counts[FRAGMENT])

    def delete_component(self, row: int, col: int, target: int = FRAGMENT,
                         replacement: int = BACKGROUND, connectivity: int = 8) -> BBox | None:
        """Delete the fragment under the click; a click on another class does nothing.

        8-connected because a fragment drawn with a diagonal step is still one
        fragment to the embryologist.
        """
        h, w = self.mask.shape
        if not (0 <= row < h and 0 <= col < w) or self.mask[int(row), int(col)] != target:
            return None
        hit = brush.component(self.mask, row, col, connectivity)
        return None if hit is None else self._gesture(hit[0], hit[1], replacement, "delete fragment")

    def reset_to(self, mask: np.ndarray | None = None, kind: str = "reset to model mask") -> BBox | None:
        """Replace the whole mask (default: the model's), as one undoable step."""
        src = self.model_mask if mask is None else mask
        if src is None:
            raise ValueError("no model mask to reset to")
        if src.shape != self.mask.shape:
            raise ValueError(f"mask shape {src.shape} differs from {self.mask.shape}")
        if self.in_stroke:
            self.end_stroke()
        full = BBox(0, self.mask.shape[0], 0, self.mask.shape[1])
        delta = Delta.from_regions(full, self.mask.copy(), np.asarray(src, np.uint8), kind)
        if delta is None:
            return None
        self.history.push(delta)
        self._apply(delta, backwards=False)
        return self._changed(delta.box)

    def _gesture(self, box: BBox, hit: np.ndarray, value: int, kind: str) -> BBox | None:
        if self.in_stroke:
            self.end_stroke()
        self.begin_stroke(kind)
        self._write(box, hit, value)
        delta = self.end_stroke()
        return None if delta is None else delta.box

    # -- undo ------------------------------------------------------------------------------
    def undo(self) -> BBox | None:
        if self.in_stroke:
            self.end_stroke()
        delta = self.history.pop_undo()
        if delta is None:
            return None
        self._apply(delta, backwards=True)
        return self._changed(delta.box)

    def redo(self) -> BBox | None:
        if self.in_stroke:
            self.end_stroke()
        delta = self.history.pop_redo()
        if delta is None:
            return None
        self._apply(delta, backwards=False)
        return self._changed(delta.box)

    def _apply(self, delta: Delta, backwards: bool) -> None:
        removed, written = delta.apply(self.mask, backwards)
        self._counts += _counts(written) - _counts(removed)

    @property
    def nbytes(self) -> int:
        extra = 0 if self.model_mask is None else self.model_mask.nbytes
        return self.mask.nbytes + extra + self.history.nbytes


def _check_class(value: int) -> None:
    if value not in CLASSES:
        raise ValueError(f"class {value!r} is not one of {CLASSES}")


class EditorManager:
    """One LabelEditor per image key (sha256 or path), least recently used evicted first.

    Only editors without unsaved changes are evicted, and never the current
    one, so the budget can bound memory without ever dropping a correction.
    """

    def __init__(self, max_bytes: int = 768 * 2**20, max_editors: int = 64):
        self.max_bytes = max_bytes
        self.max_editors = max_editors
        self._editors: OrderedDict[str, LabelEditor] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self._editors

    def __len__(self) -> int:
        return len(self._editors)

    def get(self, key: str) -> LabelEditor | None:
        ed = self._editors.get(key)
        if ed is not None:
            self._editors.move_to_end(key)
        return ed

    def open(self, key: str, mask: np.ndarray, model_mask: np.ndarray | None = None,
             scheme: str = DEFAULT_SCHEME) -> LabelEditor:
        """The existing editor for ``key`` (history intact) or a new one on ``mask``."""
        ed = self.get(key)
        if ed is not None and ed.shape == mask.shape:
            ed.scheme = scheme
            if model_mask is not None:
                ed.model_mask = model_mask
            return ed
        ed = LabelEditor(mask, model_mask, scheme=scheme)
        self._editors[key] = ed
        self._evict(keep=key)
        return ed

    def drop(self, key: str) -> None:
        self._editors.pop(key, None)

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self._editors.values())

    def unsaved(self) -> list[str]:
        return [k for k, e in self._editors.items() if e.dirty]

    def _evict(self, keep: str) -> None:
        for key in list(self._editors):
            if len(self._editors) <= self.max_editors and self.nbytes <= self.max_bytes:
                return
            if key != keep and not self._editors[key].dirty:
                del self._editors[key]
