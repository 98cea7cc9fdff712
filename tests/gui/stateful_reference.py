"""A plain model of what a user did to each (folder, image): the oracle of the stateful window test.

Nothing here comes from the app's correction code: ADR 0006's table is
written out again over numpy masks, so a change in ``app/core/image_state.py``
or the GUI that breaks it disagrees with this file. The grading table
(``model.grading``) is the one shared piece: it is the specification of a
grade, not the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from model.grading import get_scheme

BACKGROUND, BLASTOMERE, FRAGMENT = 0, 1, 2
SCHEME = get_scheme("istanbul")
# What the folder list calls a stored status; anything else lists as the model's result.
LISTED = {"reviewed": "reviewed", "corrected": "corrected", "grade-only": "corrected"}


def fraction(mask: np.ndarray) -> float:
    blast, frag = int(np.count_nonzero(mask == BLASTOMERE)), int(np.count_nonzero(mask == FRAGMENT))
    return float("nan") if blast + frag == 0 else frag / (blast + frag)


def grade_of(frac: float) -> str | None:
    return None if frac != frac else SCHEME.grade(100.0 * frac)


def pct_text(frac: float) -> str:
    return "—" if frac != frac else f"{100.0 * frac:.1f} %"


@dataclass(frozen=True)
class Override:
    grade: str
    reason: str
    text: str


@dataclass
class Facts:
    """One (folder, image): the mask, a grade set by hand, Accept, the undo history, the store."""

    model: np.ndarray
    model_fraction: float
    mask: np.ndarray
    override: Override | None = None
    accepted: bool = False
    undo: list[np.ndarray] = field(default_factory=list)
    redo: list[np.ndarray] = field(default_factory=list)
    saved: tuple | None = None  # the facts the store holds (None: none, or withdrawn)
    disk: dict | None = None  # the store's expected current revision (None: no revision at all)

    @classmethod
    def fresh(cls, model: np.ndarray, model_fraction: float) -> Facts:
        return cls(model.copy(), model_fraction, model.copy())

    # -- what the facts amount to (ADR 0006) -------------------------------------------------
    def painted(self) -> bool:
        return not np.array_equal(self.mask, self.model)

    def status(self) -> str | None:
        # ADR 0006's table, first row that holds: the painted mask, a set grade, Accept.
        rows = (("corrected", self.painted()), ("grade-only", self.override is not None),
                ("reviewed", self.accepted))
        return next((status for status, holds in rows if holds), None)

    def final_grade(self) -> str | None:
        return self.override.grade if self.override is not None else grade_of(fraction(self.mask))

    def _facts(self) -> tuple | None:
        status = self.status()
        if status is None:
            return None
        return (status, self.mask.tobytes() if status == "corrected" else None, self.override, self.accepted)

    # -- what the user does -----------------------------------------------------------------
    def edit(self, new_mask: np.ndarray) -> bool:
        """A gesture left ``new_mask``; one undo step if it changed anything."""
        if np.array_equal(new_mask, self.mask):
            return False
        self.undo.append(self.mask)
        self.redo.clear()
        self.mask = new_mask.copy()
        return True

    def do_undo(self) -> None:
        if self.undo:
            self.redo.append(self.mask)
            self.mask = self.undo.pop()

    def do_redo(self) -> None:
        if self.redo:
            self.undo.append(self.mask)
            self.mask = self.redo.pop()

    def accept(self) -> None:
        self.edit(self.model)
        self.accepted, self.override = True, None
        self.save()

    def set_grade(self, grade: str, reason: str, text: str) -> None:
        self.override = Override(grade, reason, text.strip())
        self.save()

    def forget_history(self) -> None:
        self.undo.clear()
        self.redo.clear()

    def save(self) -> None:
        """A save point: the store gets a revision unless it already says the same."""
        now = self._facts()
        if now == self.saved:
            return
        self.saved = now
        ov = self.override
        status = self.status()
        if status is None:
            self.disk = {"status": "withdrawn", "mask": None, "grade": None, "grade_reason": None}
            return
        disk = {"status": status, "mask": None, "grade_reason": ov.reason if ov else None,
                "reason_text": ov.text if ov else "", "accepted": self.accepted}
        if status == "corrected":
            disk.update(mask=self.mask.copy(), mask_grade=grade_of(fraction(self.mask)),
                        grade=ov.grade if ov else grade_of(fraction(self.mask)))
        elif status == "grade-only":
            disk["grade"] = ov.grade
        else:
            disk["grade"] = grade_of(self.model_fraction)
        self.disk = disk


# -- what a gesture may change: its footprint and its class ------------------------------------
def check_local_paint(before, after, points_rc, radius: int, value: int) -> None:
    """Brush / eraser / lasso: changed pixels take ``value`` and stay near the gesture."""
    changed = before != after
    assert np.all(after[changed] == value), "a painted pixel got another class"
    rows, cols = np.nonzero(changed)
    if rows.size:
        pr = [p[0] for p in points_rc]
        pc = [p[1] for p in points_rc]
        m = radius + 1.5
        assert rows.min() >= min(pr) - m and rows.max() <= max(pr) + m, "paint outside the gesture"
        assert cols.min() >= min(pc) - m and cols.max() <= max(pc) + m, "paint outside the gesture"


def check_brush(before, after, points_rc, radius: int, value: int) -> None:
    check_local_paint(before, after, points_rc, radius, value)
    for r, c in points_rc:
        assert after[r, c] == value, f"the stroke missed pixel {(r, c)}"


def check_eraser(before, after, points_rc, radius: int) -> None:
    """The eraser gives back what lay under an erased fragment (blastomere in a cell, background
    outside); cells become background unless the stroke began on a fragment."""
    changed = before != after
    assert not np.any(after[changed] == FRAGMENT), "the eraser painted fragment"
    check_local_paint(before, np.where(changed, BACKGROUND, before), points_rc, radius, BACKGROUND)
    only_fragment = before[points_rc[0]] == FRAGMENT
    if only_fragment:
        assert not np.any(changed & (before == BLASTOMERE)), "a stroke begun on a fragment erased a cell"
    else:
        assert np.all(after[changed & (before == BLASTOMERE)] == BACKGROUND)
    for p in points_rc:
        assert after[p] != FRAGMENT, f"the eraser left a fragment at {p}"
        if not only_fragment and before[p] == BLASTOMERE:
            assert after[p] == BACKGROUND, f"the eraser left a cell at {p}"


def check_fill(before, after, r: int, c: int, value: int, asked: list[float], answer: bool) -> None:
    """Fill: part of the clicked pixel's 4-connected region (up to membranes seen in the image)
    takes ``value``; more than a quarter of the embryo is done only when the user said yes."""
    changed = before != after
    region = component(before, r, c, 4)
    assert not np.any(changed & ~region), "the fill leaked out of the clicked region"
    assert np.all(after[changed] == value)
    embryo = max(int(np.count_nonzero(before != BACKGROUND)), 1)
    share = np.count_nonzero(changed) / embryo
    if asked:
        assert asked[0] > 0.25, f"asked about a fill of {asked[0]:.0%} of the embryo"
        if not answer:
            assert not changed.any(), "filled although the user said no"
            return
        assert abs(share - asked[0]) < 1e-6, "the fill differs from what the user was asked about"
    else:
        assert share <= 0.25, f"a fill of {share:.0%} of the embryo without asking"
    if before[r, c] != value:
        assert after[r, c] == value, "the clicked pixel was not filled"


def component(mask: np.ndarray, r: int, c: int, connectivity: int) -> np.ndarray:
    same = (mask == mask[r, c]).astype(np.uint8)
    _, labels = cv2.connectedComponents(same, connectivity=connectivity)
    return labels == labels[r, c]


def expected_delete(before: np.ndarray, r: int, c: int) -> np.ndarray:
    if before[r, c] != FRAGMENT:
        return before
    out = before.copy()
    out[component(before, r, c, 8)] = BACKGROUND
    return out
