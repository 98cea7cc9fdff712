"""The model's side of an image being corrected, and the revisions that need no mask. Qt-free.

``ImageState`` (app/core/image_state.py) decides which status the
annotator's facts amount to and builds "corrected" and "grade-only"
revisions; the two built here need nothing but the model's result:
- the model's result is accepted          -> "reviewed";
- a stored correction is undone entirely  -> "withdrawn" (no label any more).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.core.store_format import GRADE_REASONS, WITHDRAWN, Revision
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
                    extra={**_model_extra(ctx), "accepted": True})


def withdrawn_revision(ctx: ImageContext, annotator: str) -> Revision:
    """Every edit undone after a correction was stored: the image is back to 'graded by model'."""
    return Revision(sha256=ctx.sha256, path=ctx.path, status=WITHDRAWN, annotator=annotator,
                    scheme=ctx.scheme, model_version=ctx.model_version, extra=_model_extra(ctx))


def check_grade(scheme_key: str, grade: str, reason: str, text: str = "") -> None:
    """Raise ValueError (message for the user) unless this is a grade that may be set by hand."""
    scheme = get_scheme(scheme_key)
    if grade not in scheme.labels:
        raise ValueError(f"{grade!r} is not a grade of {scheme.name}")
    if reason not in GRADE_REASONS:
        raise ValueError(f"reason must be one of {GRADE_REASONS}")
    if reason == "other" and not text.strip():
        raise ValueError("say why in a few words when the reason is 'other'")
