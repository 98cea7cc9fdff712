"""Fragmentation grading schemes, as data.

Percentages are projected areas: fragment area / (blastomere + fragment area)
in one 2-D image (the ESHRE atlas speaks of cytoplasmic volume; a single
focal plane cannot measure that). Every boundary below is tested exactly in
``tests/test_grading.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

BORDERLINE_POINTS = 3.0


@dataclass(frozen=True)
class GradeBin:
    label: str
    description: str
    lower: float  # percent
    upper: float  # percent
    lower_inclusive: bool = True
    upper_inclusive: bool = False

    def contains(self, pct: float) -> bool:
        above = pct >= self.lower if self.lower_inclusive else pct > self.lower
        below = pct <= self.upper if self.upper_inclusive else pct < self.upper
        return above and below


@dataclass(frozen=True)
class GradingScheme:
    key: str
    name: str
    reference: str
    bins: tuple[GradeBin, ...]

    def grade(self, pct: float) -> str:
        """Grade label for a fragmentation percentage in [0, 100]."""
        if pct != pct:  # NaN: no cytoplasm visible, nothing to grade
            raise ValueError("fragmentation percentage is NaN")
        pct = min(max(float(pct), 0.0), 100.0)
        for b in self.bins:
            if b.contains(pct):
                return b.label
        raise AssertionError(f"{self.key}: {pct} falls in no bin")  # bins cover [0, 100]

    def bin(self, label: str) -> GradeBin:
        for b in self.bins:
            if b.label == label:
                return b
        raise KeyError(f"{self.key} has no grade {label!r}; known: {self.labels}")

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(b.label for b in self.bins)

    @property
    def cutoffs(self) -> tuple[float, ...]:
        """Interior cut-offs in percent (0 and 100 are not cut-offs a human argues about)."""
        cuts = sorted({b.upper for b in self.bins} | {b.lower for b in self.bins})
        return tuple(c for c in cuts if 0.0 < c < 100.0)

    def is_borderline(self, pct: float, margin: float = BORDERLINE_POINTS) -> bool:
        return any(abs(pct - c) <= margin for c in self.cutoffs)

    def interval(self, label: str) -> tuple[float, float]:
        """The grade's interval as fractions in [0, 1], for the Range loss."""
        b = self.bin(label)
        return b.lower / 100.0, b.upper / 100.0

    def index(self, label: str) -> int:
        return self.labels.index(label)


ISTANBUL = GradingScheme(
    key="istanbul",
    name="Istanbul consensus 2011",
    reference="ALPHA/ESHRE, Hum Reprod 2011;26:1270",
    bins=(
        GradeBin("1", "good: <10 %", 0.0, 10.0),
        GradeBin("2", "fair: 10-25 %", 10.0, 25.0, upper_inclusive=True),
        GradeBin("3", "poor: >25 %", 25.0, 100.0, lower_inclusive=False, upper_inclusive=True),
    ),
)

ASEBIR = GradingScheme(
    key="asebir",
    name="ASEBIR",
    reference="ASEBIR embryo assessment criteria",
    bins=(
        GradeBin("A", "<10 %", 0.0, 10.0),
        GradeBin("B", "10-25 %", 10.0, 25.0, upper_inclusive=True),
        GradeBin("C", "25-35 %", 25.0, 35.0, lower_inclusive=False, upper_inclusive=True),
        GradeBin("D", ">35 %", 35.0, 100.0, lower_inclusive=False, upper_inclusive=True),
    ),
)

EQC = GradingScheme(
    key="eqc",
    name="EQC external quality control",
    reference="EQC fragmentation categories",
    bins=(
        GradeBin("0", "0 %", 0.0, 0.0, upper_inclusive=True),
        GradeBin("1", "<10 %", 0.0, 10.0, lower_inclusive=False),
        GradeBin("2", "10-<25 %", 10.0, 25.0),
        GradeBin("3", "25-<50 %", 25.0, 50.0),
        GradeBin("4", ">=50 %", 50.0, 100.0, upper_inclusive=True),
    ),
)

SCHEMES: dict[str, GradingScheme] = {s.key: s for s in (ISTANBUL, ASEBIR, EQC)}
DEFAULT_SCHEME = ISTANBUL.key


def get_scheme(key: str) -> GradingScheme:
    try:
        return SCHEMES[key.lower()]
    except KeyError:
        raise KeyError(f"unknown grading scheme {key!r}; choose one of {sorted(SCHEMES)}") from None


def fragment_fraction(mask) -> float:
    """fragment / (blastomere + fragment) pixels of a 0/1/2 class mask; NaN if both are empty."""
    import numpy as np

    m = np.asarray(mask)
    frag = int(np.count_nonzero(m == 2))
    cyto = frag + int(np.count_nonzero(m == 1))
    return float("nan") if cyto == 0 else frag / cyto
