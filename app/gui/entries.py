"""One row of the folder list, Qt-free: path, parsed name, status and the model's numbers.

Rows keep only numbers (never the arrays): a folder of 10,000 graded images
costs a few MB. Parsing the time-lapse name happens on first use, so opening
a folder only lists file names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from app.core.embryo_presence import presence_of
from app.core.timelapse import TimelapseInfo, parse_name
from model.grading import get_scheme

NOT_GRADED = "not graded"
QUEUED = "queued"
GRADED = "graded by model"
REVIEWED = "reviewed"
CORRECTED = "corrected"
ERROR = "error"
STATUSES = (NOT_GRADED, GRADED, REVIEWED, CORRECTED, ERROR)
STATUS_ORDER = {s: i for i, s in enumerate((NOT_GRADED, QUEUED, GRADED, REVIEWED, CORRECTED, ERROR))}


@dataclass(slots=True)
class Entry:
    path: Path
    name: str
    sha256: str | None = None
    error: str | None = None
    review_status: str | None = None  # from the annotation store: reviewed / corrected
    review_fraction: float | None = None  # the painted mask's fraction (None: the model's stands)
    review_grade: str | None = None  # the final grade when it is not the model's
    review_by: str = ""  # who saved the review
    model_version: str | None = None
    fraction_mask: float = math.nan
    fraction_regression: float = math.nan
    uncertainty: float = math.nan
    grade: str = ""
    borderline: bool = False
    disagreement: bool = False
    _info: TimelapseInfo | None = field(default=None, repr=False, compare=False)

    @property
    def info(self) -> TimelapseInfo:
        if self._info is None:
            self._info = parse_name(self.name)
        return self._info

    @property
    def graded(self) -> bool:
        return self.model_version is not None

    @property
    def status(self) -> str:
        if self.error:
            return ERROR
        if self.review_status in (REVIEWED, CORRECTED):
            return self.review_status
        return GRADED if self.graded else NOT_GRADED

    def set_review(self, summary) -> None:
        """The store's (or the live state's) ``ReviewSummary``; None: not reviewed."""
        self.review_status = None if summary is None else summary.status
        self.review_fraction = None if summary is None else summary.fraction
        self.review_grade = None if summary is None else summary.grade
        self.review_by = "" if summary is None else summary.by

    @property
    def final_pct(self) -> float:
        """The fragmentation a reader should use: the painted mask's, else the model's."""
        if self.review_status == CORRECTED and self.review_fraction is not None:
            return 100.0 * self.review_fraction
        return self.fragment_pct

    @property
    def final_grade(self) -> str:
        if self.review_status in (REVIEWED, CORRECTED) and self.review_grade:
            return self.review_grade
        return self.grade

    @property
    def embryo(self) -> str:
        info = self.info
        if info.well is not None:
            return f"{info.embryo_id} · well {info.well}" if info.embryo_id != info.stem else f"well {info.well}"
        return info.embryo_id if info.embryo_id != info.stem else ""

    @property
    def hours(self) -> float | None:
        return self.info.hours

    @property
    def fragment_pct(self) -> float:
        return 100.0 * self.fraction_mask

    def set_prediction(self, sha256: str | None, pred) -> None:
        self.sha256 = sha256 or self.sha256
        self.error = None
        self.model_version = pred.model_version
        self.fraction_mask = pred.fraction_mask
        self.fraction_regression = pred.fraction_regression
        self.uncertainty = pred.uncertainty
        self.grade = pred.grade
        self.borderline = pred.borderline
        self.disagreement = pred.disagreement
        if presence_of(pred) is not None:  # no embryo, or several: listed, never graded
            self.grade, self.fraction_mask = "", math.nan
            self.borderline = self.disagreement = False

    def clear_prediction(self) -> None:
        self.model_version = None
        self.fraction_mask = self.fraction_regression = self.uncertainty = math.nan
        self.grade = ""
        self.borderline = self.disagreement = False

    def regrade(self, scheme: str) -> None:
        """Grade and borderline flag under another scheme (as ``Prediction.regrade``)."""
        if self.graded and not math.isnan(self.fraction_mask):
            sch = get_scheme(scheme)
            pm, pr = self.fragment_pct, 100.0 * self.fraction_regression
            self.grade = sch.grade(pm)
            has_r = not math.isnan(pr)
            self.borderline = bool(sch.is_borderline(pm) or (has_r and (sch.is_borderline(pr)
                                                                         or sch.grade(pr) != self.grade)))


def entries_for(paths: list[Path]) -> list[Entry]:
    return [Entry(path=p, name=p.name) for p in paths]
