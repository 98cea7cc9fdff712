"""The fine-tune dialog's train / validation split, by embryo, with the validation embryos to pick.

Every embryo with corrections is one row: its images (and how many carry a
mask), ticked when it is kept for validation. The choice is made per
folder and kept for every later fine-tune (``finetune_split.save_validation``);
ticking another embryo re-plans at once, so the counts above show what
training will get. A folder whose only three-image embryo went to
validation, leaving one image to train on, is changed here.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QListWidget, QListWidgetItem, QVBoxLayout


class SplitBox(QGroupBox):
    changed = Signal(list)  # the ticked (validation) embryo keys

    def __init__(self, parent=None):
        super().__init__("Split by embryo: tick the validation embryos", parent)
        self.list = QListWidget(self)
        self.list.setMinimumHeight(90)
        self.list.itemChanged.connect(self._on_item)
        lay = QVBoxLayout(self)
        lay.addWidget(self.list)
        self._filling = False

    def set_plan(self, plan) -> None:
        counts: dict[str, list[int]] = {}
        for s in [*plan.train, *plan.val]:
            n = counts.setdefault(s.key, [0, 0])
            n[0] += 1
            n[1] += bool(s.has_mask)
        val = set(plan.val_keys)
        self._filling = True
        self.list.clear()
        for key in sorted(counts):
            n, masks = counts[key]
            side = "validation" if key in val else "training"
            item = QListWidgetItem(f"{key}: {n} images ({masks} with masks), {side}")
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if key in val else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self._filling = False

    def checked(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def _on_item(self, _item) -> None:
        if not self._filling:
            self.changed.emit(self.checked())
