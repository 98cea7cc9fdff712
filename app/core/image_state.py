"""One image's correction state in one folder: what the view, panels, list, store and CSV all read. Qt-free.

An ``ImageState`` is keyed by (folder, sha256): a byte-identical image in
another folder is another state, with its own editor, history and store.
What the annotator did is three facts: the mask (in ``editor``), a grade set
by hand (``override``) and whether they accepted the model's result
(``accepted``). The store status follows from them (ADR 0006):

- mask differs from the model's          -> "corrected" (mask kept; a set grade rides along
                                            and wins for the final grade)
- model's mask, grade set by hand        -> "grade-only"
- model's mask, accepted                 -> "reviewed" (only Accept sets ``accepted``)
- model's mask, nothing else             -> no annotation; "withdrawn" if one was stored

So undoing every edit means "no change", not "reviewed", and setting a
grade over a painted mask keeps both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.corrections import ImageContext, accept_revision, withdrawn_revision
from app.core.label_edit import LabelEditor
from app.core.store_format import WITHDRAWN, Revision
from model.grading import fragment_fraction, get_scheme

# What the folder list and the CSV call each stored status: a set grade is a correction.
SHOWN_STATUS = {"reviewed": "reviewed", "corrected": "corrected", "grade-only": "corrected"}


@dataclass(frozen=True)
class GradeOverride:
    grade: str
    scheme: str
    reason: str
    text: str = ""

    def describe(self) -> str:
        why = f"{self.reason}: {self.text}" if self.text else self.reason
        return f"grade {self.grade} set by hand ({why})"


def state_key(folder: str | Path, sha256: str) -> str:
    return f"{Path(folder)}\x00{sha256}"


def mask_digest(mask: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(mask), digest_size=16).hexdigest()


@dataclass
class ImageState:
    folder: Path
    ctx: ImageContext
    editor: LabelEditor
    override: GradeOverride | None = None
    accepted: bool = False
    stored: tuple | None = None  # signature of the store's current revision (None: nothing)
    stored_note: str = ""  # who and when, for the panel

    @property
    def key(self) -> str:
        return state_key(self.folder, self.ctx.sha256)

    @property
    def sha256(self) -> str:
        return self.ctx.sha256

    @property
    def path(self) -> str:
        return self.ctx.path

    # -- what it means -------------------------------------------------------------------------
    def painted(self) -> bool:
        return self.editor.differs_from_model()

    def status(self) -> str | None:
        """The store status the current facts amount to (None: no annotation)."""
        if self.painted():
            return "corrected"
        if self.override is not None:
            return "grade-only"
        return "reviewed" if self.accepted else None

    def shown_status(self) -> str | None:
        return SHOWN_STATUS.get(self.status())

    def final_grade(self) -> str | None:
        """The grade a reader should use: the hand-set one, else the mask's (live, O(1))."""
        if self.override is not None:
            return self.override.grade
        return self.editor.stats.grade

    def signature(self) -> tuple | None:
        status = self.status()
        if status is None:
            return None
        digest = mask_digest(self.editor.mask) if status == "corrected" else None
        return (status, digest, self.override, self.accepted)

    def describe(self) -> str:
        """One line for the correction panel, in the list's and the CSV's words."""
        status = self.shown_status() or "not reviewed"
        if self.override is not None:
            status += " — " + self.override.describe()
        return status

    # -- saving --------------------------------------------------------------------------------
    def revision(self, annotator: str = "") -> Revision | None:
        """The revision that records the current facts; None when the store already says so."""
        sig = self.signature()
        if sig == self.stored:
            return None
        status = sig[0] if sig is not None else None
        if status is None:
            return withdrawn_revision(self.ctx, annotator)
        if status == "reviewed":
            return accept_revision(self.ctx, annotator)
        ctx, ov = self.ctx, self.override
        frac = None if ctx.model_fraction is None or ctx.model_fraction != ctx.model_fraction \
            else float(ctx.model_fraction)
        extra = {"model_fraction": frac, "accepted": self.accepted}
        mask = None
        if status == "corrected":
            mask = self.editor.mask.copy()
            frac = self.editor.stats.fraction
            frac = None if frac != frac else float(frac)
            if ctx.model_mask is not None:
                extra["changed_pixels"] = int(np.count_nonzero(mask != ctx.model_mask))
            extra["edit_steps"] = len(self.editor.history)
            extra["mask_grade"] = self.editor.stats.grade
        elif frac is None and ctx.model_mask is not None:
            frac = fragment_fraction(ctx.model_mask)
        grade = ov.grade if ov is not None else (
            None if frac is None else get_scheme(ctx.scheme).grade(100.0 * frac))
        return Revision(
            sha256=ctx.sha256, path=ctx.path, status=status, annotator=annotator, mask=mask,
            model_mask=ctx.model_mask, grade=grade, scheme=ov.scheme if ov is not None else ctx.scheme,
            fragment_fraction=frac if status == "corrected" else None,
            grade_reason=ov.reason if ov is not None else None,
            reason_text=ov.text if ov is not None else "",
            model_version=ctx.model_version, extra=extra)

    def mark_stored(self, signature: tuple | None, note: str = "") -> None:
        self.stored = signature
        self.stored_note = note


def from_store(folder: Path, ctx: ImageContext, rev: Revision | None, make_editor) -> ImageState:
    """The state a stored revision describes; ``make_editor(start_mask)`` gives the editor."""
    model = ctx.model_mask
    override, accepted, start = None, False, model
    if rev is not None and rev.status != WITHDRAWN:
        accepted = rev.status == "reviewed" or bool(rev.extra.get("accepted"))
        if rev.grade_reason:
            override = GradeOverride(rev.grade or "", rev.scheme or ctx.scheme, rev.grade_reason,
                                     rev.reason_text or "")
        if rev.status == "corrected" and rev.mask is not None and rev.mask.shape == model.shape:
            start = rev.mask
    state = ImageState(folder, ctx, make_editor(start), override, accepted)
    if rev is not None and rev.status != WITHDRAWN:
        who = f"{rev.annotator}, {rev.time_utc[:16].replace('T', ' ')} UTC" if rev.time_utc else ""
        state.mark_stored(state.signature(), who)
    return state
