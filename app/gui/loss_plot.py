"""Live training curves of a fine-tune: training loss, and validation fragment Dice / fraction MAE."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QWidget


class LossPlot(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = pg.PlotWidget(self, title="training loss")
        self.val_plot = pg.PlotWidget(self, title="validation")
        for p in (self.loss_plot, self.val_plot):
            p.setLabel("bottom", "epoch")
            p.showGrid(x=True, y=True, alpha=0.3)
            p.setMinimumHeight(130)
            lay.addWidget(p)
        self.val_plot.addLegend(offset=(5, 5))
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1a73e8", width=2), symbol="o", symbolSize=5)
        self.dice_curve = self.val_plot.plot([], [], pen=pg.mkPen("#188038", width=2), symbol="o", symbolSize=5,
                                             name="fragment Dice")
        # MAE is in points (0..100); /100 puts it on Dice's 0..1 axis, the legend says so.
        self.mae_curve = self.val_plot.plot([], [], pen=pg.mkPen("#d93025", width=2), symbol="t", symbolSize=6,
                                            name="fraction MAE / 100")
        self.clear()

    def clear(self) -> None:
        self.epochs: list[float] = []
        self.loss: list[float] = []
        self.val_epochs: list[float] = []
        self.dice: list[float] = []
        self.mae: list[float] = []
        self._redraw()

    def add_epoch(self, event: dict) -> None:
        """One ``{"event": "epoch", ...}`` progress line of ``main.py train --progress-json``."""
        ep = float(event.get("epoch", len(self.epochs) + 1))
        loss = event.get("train_loss")
        if isinstance(loss, (int, float)) and math.isfinite(loss):
            self.epochs.append(ep)
            self.loss.append(float(loss))
        val = event.get("val") or {}
        d, m = val.get("fragment_dice"), val.get("fraction_mae_pts_mask")
        if isinstance(d, (int, float)) and isinstance(m, (int, float)):
            self.val_epochs.append(ep)
            self.dice.append(float(d))
            self.mae.append(float(m) / 100.0)
        self._redraw()

    def _redraw(self) -> None:
        self.loss_curve.setData(self.epochs, self.loss)
        self.dice_curve.setData(self.val_epochs, self.dice)
        self.mae_curve.setData(self.val_epochs, self.mae)
