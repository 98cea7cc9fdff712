"""Controls for the overlays and display levels, with the legend; drives an ImageView."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.gui.image_view import ImageView
from app.gui.overlays import CLASSES

GATES = ("gate_stride8", "gate_stride4")  # the network's attention gates (prediction.attention)
ATTENTION_MEANING = ("High: the decoder took the encoder's fine detail from here (the gate passed "
                     "its skip features) to draw the mask. Shown over the embryo only, stretched "
                     "from this image's lowest to highest value there.")


def _slider(value: float) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(0, 100)
    s.setValue(int(round(value * 100)))
    return s


def _swatch(rgb) -> QLabel:
    lab = QLabel()
    lab.setFixedSize(14, 14)
    lab.setStyleSheet(f"background: rgb{tuple(rgb)}; border: 1px solid #444;")
    return lab


class OverlayControls(QWidget):
    def __init__(self, view: ImageView, settings=None, parent=None):
        super().__init__(parent)
        self.view = view
        self.settings = settings

        mask_box = QGroupBox("Mask (hold Space to hide overlays)", self)
        form = QFormLayout(mask_box)
        self.mask_opacity = _slider(settings.mask_opacity() if settings else view.mask_style.opacity)
        self.mask_opacity.valueChanged.connect(self._on_mask_opacity)
        form.addRow("opacity", self.mask_opacity)
        self.outline = QCheckBox("outline only")
        self.outline.setChecked(settings.outline() if settings else False)
        self.outline.toggled.connect(self._on_outline)
        form.addRow(self.outline)
        self.class_boxes: dict[int, QCheckBox] = {}
        for c, (name, rgb) in CLASSES.items():  # the legend doubles as the per-class toggles
            row = QHBoxLayout()
            row.addWidget(_swatch(rgb))
            cb = QCheckBox(name)
            cb.setChecked(True)
            cb.toggled.connect(lambda on, c=c: self.view.set_class_visible(c, on))
            row.addWidget(cb, 1)
            self.class_boxes[c] = cb
            form.addRow(row)

        att_box = QGroupBox("Attention (where the model looked)", self)
        aform = QFormLayout(att_box)
        self.att_sliders: dict[str, QSlider] = {}
        self.att_notes: dict[str, QLabel] = {}
        for g in GATES:
            s = _slider(settings.attention_opacity(g) if settings else 0.0)
            s.valueChanged.connect(lambda v, g=g: self._on_att(g, v))
            aform.addRow(g.replace("gate_", ""), s)
            note = QLabel("", att_box)
            note.setWordWrap(True)
            note.setStyleSheet("color: gray; font-size: 8pt;")
            aform.addRow(note)
            self.att_sliders[g], self.att_notes[g] = s, note
        ramp = QLabel("low ▸ high")
        ramp.setStyleSheet("background: qlineargradient(x1:0, y1:0, x2:1, y2:0, stop:0 #000000, "
                           "stop:0.25 #781478, stop:0.5 #e63c1e, stop:0.75 #ffc828, stop:1 #ffffdc);"
                           "color: white; padding: 1px 4px;")
        aform.addRow("scale", ramp)
        self.att_legend = QLabel(ATTENTION_MEANING, att_box)
        self.att_legend.setWordWrap(True)
        self.att_legend.setStyleSheet("font-size: 8pt;")
        aform.addRow(self.att_legend)
        view.attention_scaled.connect(self._on_attention_scaled)

        lev_box = QGroupBox("Display levels", self)
        lrow = QHBoxLayout(lev_box)
        self.low = QDoubleSpinBox()
        self.high = QDoubleSpinBox()
        for sp in (self.low, self.high):
            sp.setRange(0, 65535)
            sp.setDecimals(0)
            sp.setKeyboardTracking(False)
            sp.valueChanged.connect(self._on_levels_edited)
        self.auto = QPushButton("auto")
        self.auto.setToolTip("0.5 / 99.5 percentiles")
        self.auto.clicked.connect(self.view.auto_levels)
        lrow.addWidget(self.low)
        lrow.addWidget(self.high)
        lrow.addWidget(self.auto)
        view.levels_changed.connect(self._on_view_levels)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(mask_box)
        lay.addWidget(att_box)
        lay.addWidget(lev_box)
        self.apply_to_view()

    def apply_to_view(self) -> None:
        self.view.set_mask_opacity(self.mask_opacity.value() / 100)
        self.view.set_outline(self.outline.isChecked())
        for g, s in self.att_sliders.items():
            self.view.set_attention_opacity(g, s.value() / 100)

    def _on_mask_opacity(self, v: int) -> None:
        self.view.set_mask_opacity(v / 100)
        if self.settings:
            self.settings.set_mask_opacity(v / 100)

    def _on_outline(self, on: bool) -> None:
        self.view.set_outline(on)
        if self.settings:
            self.settings.set_outline(on)

    def _on_att(self, gate: str, v: int) -> None:
        self.view.set_attention_opacity(gate, v / 100)
        if self.settings:
            self.settings.set_attention_opacity(gate, v / 100)

    def _on_attention_scaled(self, scales: dict) -> None:
        for g, note in self.att_notes.items():
            sc = scales.get(g)
            if sc is None:
                note.setText("")
            elif sc.flat:
                note.setText(f"flat for this model and image ({sc.lo:.3f}–{sc.hi:.3f}): the gate "
                             "weighs every place of the embryo alike, so there is no map to show")
            else:
                note.setText(f"{sc.lo:.2f} (low) – {sc.hi:.2f} (high) over the embryo")

    def _on_view_levels(self, lo: float, hi: float) -> None:
        for sp, v in ((self.low, lo), (self.high, hi)):
            sp.blockSignals(True)
            sp.setValue(v)
            sp.blockSignals(False)

    def _on_levels_edited(self, _v) -> None:
        self.view.set_levels(self.low.value(), self.high.value())
