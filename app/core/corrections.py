"""Turning an annotator's decision into a store ``Revision``. Qt-free.

Three decisions, three statuses:
- the mask was edited            -> "corrected" (corrected mask + the model's mask, so the
                                    pixel deltas stay recoverable for weighting in training);
- the model's result is accepted -> "reviewed"  (also when edits were undone back to it);
- a grade without painting       -> "grade-only" (grade, scheme, reason; no corrected mask).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.core.label_edit import MaskStats
from app.core.store_format import GRADE_REASONS, Revision
from model.grading import fragment_fraction, get_scheme


@dataclass
class ImageContext:
    """What the saver must know about the image being edited, besides the mask."""

    sha256: str
    path: str
    model_mask: np.ndarray | None = None
    model_version: str = ""
    model_fraction: float | None = None  # the mask-derived fraction the model reported, [0, 1]
    scheme: str = "istanbul"
    image: np.ndarray | None = None  # pixels, stored with the first revision of this sha


def _fraction(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _model_extra(ctx: ImageContext) -> dict:
    return {"model_fraction": _fraction(ctx.model_fraction)}


def mask_revision(ctx: ImageContext, mask: np.ndarray, annotator: str,
                  stats: MaskStats | None = None, edit_steps: int | None = None) -> Revision:
    """The current mask: "corrected", or "reviewed" when it equals the model's mask."""
    same = ctx.model_mask is not None and np.array_equal(mask, ctx.model_mask)
    frac = stats.fraction if stats is not None else fragment_fraction(mask)
    frac = _fraction(frac)
    grade = None if frac is None else get_scheme(ctx.scheme).grade(100.0 * frac)
    extra = _model_extra(ctx)
    if not same and ctx.model_mask is not None:
        extra["changed_pixels"] = int(np.count_nonzero(mask != ctx.model_mask))
    if edit_steps is not None:
        extra["edit_steps"] = int(edit_steps)
    return Revision(
        sha256=ctx.sha256, path=ctx.path, status="reviewed" if same else "corrected",
        annotator=annotator, mask=None if same else mask, model_mask=ctx.model_mask,
        grade=grade, scheme=ctx.scheme, fragment_fraction=frac,
        model_version=ctx.model_version, extra=extra)


def accept_revision(ctx: ImageContext, annotator: str) -> Revision:
    """The model's mask and grade accepted as they are."""
    if ctx.model_mask is None:
        raise ValueError("there is no model result to accept")
    frac = _fraction(ctx.model_fraction)
    if frac is None:
        frac = _fraction(fragment_fraction(ctx.model_mask))
    grade = None if frac is None else get_scheme(ctx.scheme).grade(100.0 * frac)
    return Revision(sha256=ctx.sha256, path=ctx.path, status="reviewed", annotator=annotator,
                    model_mask=ctx.model_mask, grade=grade, scheme=ctx.scheme,
                    fragment_fraction=frac, model_version=ctx.model_version,
                    extra=_model_extra(ctx))


def grade_only_revision(ctx: ImageContext, annotator: str, grade: str, reason: str,
                        text: str = "") -> Revision:
    """A grade set by hand without painting, with why the mask was not corrected."""
    scheme = get_scheme(ctx.scheme)
    if grade not in scheme.labels:
        raise ValueError(f"{grade!r} is not a grade of {scheme.name}")
    if reason not in GRADE_REASONS:
        raise ValueError(f"reason must be one of {GRADE_REASONS}")
    if reason == "other" and not text.strip():
        raise ValueError("say why in a few words when the reason is 'other'")
    return Revision(sha256=ctx.sha256, path=ctx.path, status="grade-only", annotator=annotator,
                    model_mask=ctx.model_mask, grade=grade, scheme=scheme.key,
                    grade_reason=reason, reason_text=text.strip(),
                    model_version=ctx.model_version, extra=_model_extra(ctx))
