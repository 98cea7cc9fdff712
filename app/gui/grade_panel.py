"""The grade panel: the model's numbers (and, later, the corrected ones) side by side.

``set_values(model, corrected)`` fills a small table: one row per quantity,
a "model" column from the ``Prediction`` and a "corrected" column from a
plain dict (``set_corrected``). The correction editor passes e.g.
``{"fragment_pct_mask": 12.5, "grade": "2", "note": "mask wrong"}``; any key
of ``ROWS`` may be present, the rest stay blank. The column is always laid out
(blank when nothing is corrected), so editing never changes the panel's width.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.core.embryo_presence import presence_of
from app.version import RESEARCH_NOTICE
from model.grading import DEFAULT_SCHEME, SCHEMES, get_scheme

# (key, label) in display order
ROWS = (
    ("fragment_pct_mask", "fragmentation (mask)"),
    ("fragment_pct_regression", "fragmentation (regression)"),
    ("grade", "grade"),
    ("uncertainty", "uncertainty"),
    ("model_version", "model"),
)


def model_values(pred) -> dict[str, str]:
    """Display strings for a Prediction (Qt-free logic, tested directly)."""
    if pred is None:
        return {k: "—" for k, _ in ROWS}
    presence = presence_of(pred)
    if presence is not None:  # no grade for no embryo, nor for several graded as one
        return {**{k: "—" for k, _ in ROWS}, "grade": f"— ({presence})",
                "model_version": pred.model_version}
    reg = pred.fragment_pct_regression
    sch = get_scheme(pred.scheme)
    return {
        "fragment_pct_mask": f"{pred.fragment_pct_mask:.1f} %",
        "fragment_pct_regression": "n/a" if math.isnan(reg) else f"{reg:.1f} %",
        "grade": f"{pred.grade}  ({sch.bin(pred.grade).description})",
        "uncertainty": uncertainty_text(pred),
        "model_version": pred.model_version,
    }


def uncertainty_text(pred) -> str:
    """The ± and what it means: a calibrated interval's coverage, or that it is only a spread."""
    cov = getattr(pred, "interval_coverage", None)
    if cov is None:
        return f"± {pred.uncertainty:.1f} points (spread, not calibrated)"
    return f"± {pred.uncertainty:.1f} points ({cov:.0%} interval)"


def flags_text(pred) -> list[str]:
    out = []
    if pred is None:
        return out
    if pred.borderline:
        out.append("⚑ borderline: within a few points of a grade cut-off, or the two fractions "
                   "give different grades")
    if pred.disagreement:
        out.append("⚑ mask and regression disagree: check the mask")
    if getattr(pred, "unusual", False):
        out.append("⚑ unusual image: unlike what this model was trained on, check with extra care")
    return out


class GradePanel(QWidget):
    scheme_changed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scheme_combo = QComboBox(self)
        for key, sch in SCHEMES.items():
            self.scheme_combo.addItem(sch.name, key)
        self.scheme_combo.currentIndexChanged.connect(
            lambda _i: self.scheme_changed.emit(self.scheme_combo.currentData()))

        box = QGroupBox("Grade", self)
        self.grid = QGridLayout(box)
        self.grid.addWidget(QLabel("<b>model</b>"), 0, 1)
        self.corrected_header = QLabel("<b>corrected</b>")
        self.grid.addWidget(self.corrected_header, 0, 2)
        self.model_labels: dict[str, QLabel] = {}
        self.corrected_labels: dict[str, QLabel] = {}
        for r, (key, text) in enumerate(ROWS, start=1):
            name = QLabel(text)
            self.grid.addWidget(name, r, 0)
            m, c = QLabel("—"), QLabel("")
            c.setMinimumWidth(c.fontMetrics().horizontalAdvance("100.0 %  "))
            for lab in (name, m, c):
                # Wrapped, never widened: a long grade description must not push the image aside.
                lab.setWordWrap(True)
            for lab in (m, c):
                lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            m.setObjectName(f"model_{key}")
            self.grid.addWidget(m, r, 1)
            self.grid.addWidget(c, r, 2)
            self.model_labels[key], self.corrected_labels[key] = m, c
        self.model_labels["grade"].setStyleSheet("font-size: 15pt; font-weight: bold;")

        self.flags = QLabel(self)
        self.flags.setWordWrap(True)
        self.flags.setStyleSheet("color: #b06000; font-weight: bold;")
        self.warnings = QLabel(self)
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #a50e0e;")
        self.model_banner = QLabel(self)  # "no model available…": stays until a model loads
        self.model_banner.setWordWrap(True)
        self.model_banner.setStyleSheet("background: #fce8e6; color: #a50e0e; padding: 6px;")
        self.model_banner.hide()
        self.notice = QLabel(RESEARCH_NOTICE, self)
        self.notice.setStyleSheet("color: gray; font-style: italic;")
        self.convention = QLabel("fragment area / (blastomere + fragment area), one focal plane", self)
        self.convention.setWordWrap(True)
        self.convention.setStyleSheet("color: gray; font-size: 8pt;")

        top = QHBoxLayout()
        top.addWidget(QLabel("scheme"))
        top.addWidget(self.scheme_combo, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.model_banner)
        lay.addLayout(top)
        lay.addWidget(box)
        lay.addWidget(self.flags)
        lay.addWidget(self.warnings)
        lay.addWidget(self.convention)
        lay.addWidget(self.notice)
        self.set_values(None, None)

    @property
    def scheme(self) -> str:
        return self.scheme_combo.currentData() or DEFAULT_SCHEME

    def set_scheme(self, key: str) -> None:
        i = self.scheme_combo.findData(key)
        if i >= 0:
            self.scheme_combo.setCurrentIndex(i)

    def set_model_problem(self, message: str | None) -> None:
        """A persistent banner when no model can be used (None hides it)."""
        self.model_banner.setText(f"⚠ {message}" if message else "")
        self.model_banner.setVisible(bool(message))

    def set_values(self, model, corrected: dict | None = None, status: str = "") -> None:
        """Show a Prediction (or None); a corrected dict also fills the corrected column."""
        vals = model_values(model)
        if model is None and status:
            vals["fragment_pct_mask"] = status
        for key, lab in self.model_labels.items():
            lab.setText(vals.get(key, ""))
        if corrected is not None:
            self.set_corrected(corrected)
        self.flags.setText("\n".join(flags_text(model)))
        self.flags.setVisible(bool(self.flags.text()))
        warns = list(model.warnings) if model is not None else []
        self.warnings.setText("\n".join(f"⚠ {w}" for w in warns))
        self.warnings.setVisible(bool(warns))

    def set_corrected(self, corrected: dict | None) -> None:
        """The corrected column (None: blank). The column is always there: a column appearing
        at the first brush stroke would widen the panel and move the image under the pointer."""
        for key, lab in self.corrected_labels.items():
            v = (corrected or {}).get(key)
            lab.setText("" if v is None else (f"{v:.1f} %" if isinstance(v, float) else str(v)))
