"""The correction panel: model vs corrected %, accept, or a grade set by hand with a reason.

Widgets only: it shows numbers it is given and emits what the annotator
decided; ``AutoSaver`` turns those decisions into store revisions. The
corrected column follows the brush live (``set_stats`` is cheap: the counts
come from the editor's running totals).
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.label_edit import MaskStats
from app.core.store_format import GRADE_REASONS
from model.grading import DEFAULT_SCHEME, get_scheme


def _pct(frac: float | None) -> str:
    return "—" if frac is None or math.isnan(frac) else f"{100.0 * frac:.1f} %"


class CorrectionPanel(QWidget):
    accept_requested = Signal()
    grade_requested = Signal(str, str, str)  # grade, reason, free text
    save_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.scheme = DEFAULT_SCHEME
        self._model_grade: str | None = None
        self._active = False  # an image whose result can be corrected is shown

        box = QGroupBox("Correction", self)
        grid = QGridLayout(box)
        grid.addWidget(QLabel("<b>fragmentation</b>"), 0, 1)
        grid.addWidget(QLabel("<b>grade</b>"), 0, 2)
        grid.addWidget(QLabel("model"), 1, 0)
        grid.addWidget(QLabel("corrected"), 2, 0)
        self.model_pct, self.model_grade = QLabel("—"), QLabel("—")
        self.corr_pct, self.corr_grade = QLabel("—"), QLabel("—")
        for r, labs in ((1, (self.model_pct, self.model_grade)), (2, (self.corr_pct, self.corr_grade))):
            for c, lab in enumerate(labs, start=1):
                grid.addWidget(lab, r, c)
        self.review_status = QLabel("not reviewed", self)
        self.review_status.setWordWrap(True)  # a long reason must not widen the panel
        self.save_state = QLabel("", self)
        self.save_state.setWordWrap(True)
        self.save_state.setStyleSheet("color: gray;")

        self.accept_button = QPushButton("Accept model result", self)
        self.accept_button.setToolTip("The model's mask and grade are right: mark as reviewed")
        self.accept_button.clicked.connect(self.accept_requested)
        self.save_button = QPushButton("Save now", self)
        self.save_button.setToolTip("Corrections are saved automatically; this saves at once (Ctrl+S)")
        self.save_button.clicked.connect(self.save_requested)

        gbox = QGroupBox("Grade without painting", self)
        self.grade_combo = QComboBox(gbox)
        self.reason_combo = QComboBox(gbox)
        self.reason_combo.addItems(list(GRADE_REASONS))
        self.reason_text = QLineEdit(gbox)
        self.reason_text.setPlaceholderText("why (required for 'other')")
        self.grade_button = QPushButton("Set grade", gbox)
        self.grade_button.clicked.connect(self._emit_grade)
        self.reason_combo.currentTextChanged.connect(self._validate)
        self.reason_text.textChanged.connect(self._validate)
        g = QGridLayout(gbox)
        g.addWidget(QLabel("grade"), 0, 0)
        g.addWidget(self.grade_combo, 0, 1)
        g.addWidget(QLabel("reason"), 1, 0)
        g.addWidget(self.reason_combo, 1, 1)
        g.addWidget(self.reason_text, 2, 0, 1, 2)
        g.addWidget(self.grade_button, 3, 1)

        buttons = QHBoxLayout()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.save_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(box)
        lay.addWidget(self.review_status)
        lay.addLayout(buttons)
        lay.addWidget(gbox)
        lay.addWidget(self.save_state)
        lay.addStretch(1)
        self.set_scheme(DEFAULT_SCHEME)
        self.new_image()

    # -- inputs ----------------------------------------------------------------------------
    def set_scheme(self, key: str) -> None:
        self.scheme = get_scheme(key).key
        current = self.grade_combo.currentText()
        self.grade_combo.clear()
        for b in get_scheme(key).bins:
            self.grade_combo.addItem(f"{b.label}  ({b.description})", b.label)
        i = self.grade_combo.findData(current)
        self.grade_combo.setCurrentIndex(max(i, 0))

    def new_image(self, text: str = "") -> None:
        """Another image is shown: nothing of the previous one stays, not even a half-typed reason."""
        self._active = False
        self.reason_combo.setCurrentIndex(0)
        self.reason_text.clear()
        self.set_model(None, None)
        self.set_stats(None)
        self.review_status.setText(text)
        self.save_state.setText("")
        self._validate()

    def set_unavailable(self, reason: str) -> None:
        """The image cannot be read or graded: an empty, disabled editor that says why."""
        self.new_image(f"⚠ cannot correct this image: {reason}")

    def set_model(self, fraction: float | None, grade: str | None) -> None:
        """The model's mask-derived fraction [0, 1] and grade (None: no result yet)."""
        self._model_grade = grade
        self._active = grade is not None
        self.model_pct.setText(_pct(fraction))
        self.model_grade.setText(grade or "—")
        self.accept_button.setEnabled(self._active)
        self.save_button.setEnabled(self._active)
        if grade is not None:
            self.grade_combo.setCurrentIndex(max(self.grade_combo.findData(grade), 0))
        self._validate()

    def set_stats(self, stats: MaskStats | None, grade: str | None = None, by_hand: bool = False) -> None:
        """The corrected mask's numbers; ``grade`` the final grade when set by hand."""
        if stats is None:
            self.corr_pct.setText("—")
            self.corr_grade.setText("—")
            self.corr_grade.setStyleSheet("")
            return
        grade = grade if grade is not None else stats.grade
        self.corr_pct.setText(_pct(stats.fraction))
        self.corr_grade.setText((grade or "—") + (" (set)" if by_hand else ""))
        # A changed grade is what matters clinically: make it impossible to miss.
        changed = grade is not None and self._model_grade is not None and grade != self._model_grade
        self.corr_grade.setStyleSheet("color: #b06000; font-weight: bold;" if changed else "")

    def set_review_status(self, text: str, detail: str = "") -> None:
        self.review_status.setText(f"status: {text}" + (f" — {detail}" if detail else ""))

    def set_save_state(self, text: str) -> None:
        self.save_state.setText(text)

    # -- outputs ---------------------------------------------------------------------------
    def _validate(self) -> bool:
        ok = self._active and (self.reason_combo.currentText() != "other"
                               or bool(self.reason_text.text().strip()))
        self.grade_button.setEnabled(ok)
        return ok

    def _emit_grade(self) -> None:
        if self._validate():
            self.grade_requested.emit(self.grade_combo.currentData(), self.reason_combo.currentText(),
                                      self.reason_text.text().strip())
