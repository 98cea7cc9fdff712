"""Cells that a spreadsheet cannot turn into formulas (OWASP "CSV injection").

Text cells: a value whose first character is ``= + - @``, a tab or a carriage
return (or their full-width forms, which some spreadsheets fold to ASCII) is
prefixed with a single quote, so Excel/LibreOffice show it as text instead of
evaluating it. A value that already starts with a quote gets one more, which
makes the escape reversible: ``restore_text`` drops exactly one leading quote.

Numeric cells never go through that path: they are produced only by
formatting a Python ``int``/``float`` here, so no text can reach them, and a
negative number stays a number (legitimate only where a column allows it,
e.g. focal plane ``-15``; the report refuses negatives elsewhere).
"""

from __future__ import annotations

import math
import numbers

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
QUOTE = "'"


def safe_text(value: object) -> str:
    """Text for a CSV cell, neutralised against formula evaluation; None -> ''."""
    if value is None:
        return ""
    s = str(value)
    if s.startswith(TRIGGERS) or s.startswith(QUOTE):
        return QUOTE + s
    return s


def restore_text(cell: str) -> str:
    """The original text of a cell written by ``safe_text``."""
    return cell[1:] if cell.startswith(QUOTE) else cell


def safe_number(value: object, decimals: int | None = 2, allow_negative: bool = False) -> str:
    """A numeric cell: '' for None/NaN, else the number; refuses text and (by default) negatives."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"numeric cell got {type(value).__name__} {value!r}")
    x = float(value)
    if math.isnan(x):
        return ""
    if math.isinf(x):
        raise ValueError(f"numeric cell got {x}")
    if x < 0 and not allow_negative:
        raise ValueError(f"numeric cell got a negative value {x} in a non-negative column")
    if decimals is None or (isinstance(value, numbers.Integral)):
        return str(int(value)) if isinstance(value, numbers.Integral) else repr(x)
    return f"{x:.{decimals}f}"


def safe_flag(value: object) -> str:
    """yes/no for a boolean; '' when unknown."""
    if value is None:
        return ""
    return "yes" if bool(value) else "no"
