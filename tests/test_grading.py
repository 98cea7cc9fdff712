import math

import numpy as np
import pytest

from model.grading import SCHEMES, fragment_fraction, get_scheme

# (scheme, percent, expected grade): every boundary of every scheme, both sides.
CASES = [
    ("istanbul", 0.0, "1"), ("istanbul", 9.999, "1"), ("istanbul", 10.0, "2"),
    ("istanbul", 25.0, "2"), ("istanbul", 25.001, "3"), ("istanbul", 100.0, "3"),
    ("asebir", 9.99, "A"), ("asebir", 10.0, "B"), ("asebir", 25.0, "B"), ("asebir", 25.01, "C"),
    ("asebir", 35.0, "C"), ("asebir", 35.01, "D"), ("asebir", 100.0, "D"),
    ("eqc", 0.0, "0"), ("eqc", 0.001, "1"), ("eqc", 9.99, "1"), ("eqc", 10.0, "2"),
    ("eqc", 24.99, "2"), ("eqc", 25.0, "3"), ("eqc", 49.99, "3"), ("eqc", 50.0, "4"),
    ("eqc", 100.0, "4"),
]


@pytest.mark.parametrize("scheme,pct,grade", CASES)
def test_boundaries(scheme, pct, grade):
    assert get_scheme(scheme).grade(pct) == grade


def test_istanbul_is_default_and_names_resolve():
    from model.grading import DEFAULT_SCHEME

    assert DEFAULT_SCHEME == "istanbul"
    assert get_scheme("ASEBIR").key == "asebir"
    with pytest.raises(KeyError, match="unknown grading scheme"):
        get_scheme("gardner")


@pytest.mark.parametrize("key", sorted(SCHEMES))
def test_bins_cover_0_to_100_without_overlap(key):
    s = SCHEMES[key]
    for pct in np.linspace(0, 100, 10001):
        assert sum(b.contains(pct) for b in s.bins) == 1, (key, pct)


def test_borderline_within_three_points_of_cutoffs():
    s = get_scheme("istanbul")
    assert s.cutoffs == (10.0, 25.0)
    assert s.is_borderline(7.0) and s.is_borderline(13.0) and s.is_borderline(28.0)
    assert not s.is_borderline(6.9) and not s.is_borderline(18.0) and not s.is_borderline(40.0)


def test_interval_is_fraction_for_range_loss():
    assert get_scheme("istanbul").interval("2") == (0.10, 0.25)
    assert get_scheme("eqc").interval("0") == (0.0, 0.0)


def test_out_of_range_clamped_and_nan_refused():
    s = get_scheme("istanbul")
    assert s.grade(-1) == "1" and s.grade(120) == "3"
    with pytest.raises(ValueError):
        s.grade(float("nan"))


def test_fragment_fraction_from_mask():
    m = np.zeros((10, 10), np.uint8)
    assert math.isnan(fragment_fraction(m))
    m[:5] = 1
    m[0, :5] = 2
    assert fragment_fraction(m) == pytest.approx(5 / 50)
