"""The editing toolbar: tools, paint class, brush size, undo/redo, reset to the model's mask.

Pure wiring to an ``EditController``; every action is also reachable by
keyboard so an embryologist can keep one hand on the mouse: B brush,
E eraser, Shift+E erase to background, P polygon, G fill, X delete fragment, N pan; C switches the
paint class; [ and ] brush size; Ctrl+Z, Ctrl+Shift+Z (or Ctrl+Y).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QSlider, QToolBar, QWidget

from app.core.label_edit import BLASTOMERE, FRAGMENT
from app.gui.edit_tools import (
    BRUSH,
    DELETE,
    ERASE_BG,
    ERASER,
    FLOOD,
    MAX_RADIUS,
    MIN_RADIUS,
    NAVIGATE,
    POLYGON,
    TOOL_LABELS,
    EditController,
)

# Keys the window leaves free (arrows/A/D step images, F frame, Z embryo, digits grade, L levels,
# U next unreviewed, Space hides).
TOOL_KEYS = {NAVIGATE: "N", BRUSH: "B", ERASER: "E", ERASE_BG: "Shift+E", POLYGON: "P", FLOOD: "G",
             DELETE: "X"}
TOOL_TIPS = {
    NAVIGATE: "Left button pans, wheel zooms",
    BRUSH: "Paint the chosen class; drag to draw",
    ERASER: "An erased fragment gives back what lies under it (blastomere inside a cell, background "
            "outside); a stroke begun on a fragment erases fragment only, else cells become background",
    ERASE_BG: "Paint background over every class",
    POLYGON: "Drag a lasso, or click vertices and double-click / Enter to close; Esc cancels; "
             "drag a corner of the polygon just closed to move it",
    FLOOD: "Give the region under the click the chosen class, up to the membranes seen in the image; "
           "asks first when that is more than a quarter of the embryo",
    DELETE: "Click a fragment to delete it",
}
CLASS_NAMES = {BLASTOMERE: "Blastomere", FRAGMENT: "Fragment"}


class EditToolbar(QToolBar):
    def __init__(self, controller: EditController, parent: QWidget | None = None):
        super().__init__("Mask editing", parent)
        self.setObjectName("edit_toolbar")  # so saveState/restoreState finds it
        self.controller = c = controller

        self.tool_group = QActionGroup(self)
        self.tool_group.setExclusive(True)
        self.tool_actions: dict[str, QAction] = {}
        for tool in TOOL_KEYS:
            act = QAction(TOOL_LABELS[tool], self)
            act.setCheckable(True)
            act.setShortcut(QKeySequence(TOOL_KEYS[tool]))
            act.setToolTip(f"{TOOL_LABELS[tool]} ({TOOL_KEYS[tool]}): {TOOL_TIPS[tool]}")
            act.setData(tool)
            act.triggered.connect(lambda _=False, t=tool: c.set_tool(t))
            self.tool_group.addAction(act)
            self.addAction(act)
            self.tool_actions[tool] = act
        self.tool_actions[c.tool].setChecked(True)
        self.addSeparator()

        self.class_combo = QComboBox(self)
        self.class_combo.setToolTip("Class painted by brush, polygon and fill (C switches)")
        for value, name in CLASS_NAMES.items():
            self.class_combo.addItem(name, value)
        self.class_combo.setCurrentIndex(self.class_combo.findData(c.value))
        self.class_combo.currentIndexChanged.connect(
            lambda _i: c.set_value(self.class_combo.currentData()))
        self.addWidget(self.class_combo)
        self.class_action = self._action(
            "Switch paint class", "C",
            lambda: c.set_value(FRAGMENT if c.value == BLASTOMERE else BLASTOMERE), visible=False)

        self.size_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.size_slider.setRange(MIN_RADIUS, MAX_RADIUS)
        self.size_slider.setValue(c.radius)
        self.size_slider.setMaximumWidth(140)
        self.size_slider.setToolTip("Brush radius in image pixels ([ and ])")
        self.size_slider.valueChanged.connect(c.set_radius)
        self.size_label = QLabel(self)
        self.addWidget(self.size_slider)
        self.addWidget(self.size_label)
        self.smaller_action = self._action("Smaller brush", "[", c.shrink, visible=False)
        self.bigger_action = self._action("Bigger brush", "]", c.grow, visible=False)
        self.addSeparator()

        self.undo_action = self._action("Undo", QKeySequence.StandardKey.Undo, c.undo)
        self.redo_action = self._action("Redo", None, c.redo)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.reset_action = self._action("Reset to model mask", None, c.reset_to_model)
        self.reset_action.setToolTip("Start again from the model's mask (undoable)")

        c.tool_changed.connect(self._on_tool)
        c.value_changed.connect(lambda v: self.class_combo.setCurrentIndex(self.class_combo.findData(v)))
        c.radius_changed.connect(self._on_radius)
        c.history_changed.connect(self.refresh)
        c.editor_changed.connect(lambda _e: self.refresh())
        self._on_radius(c.radius)
        self.refresh()

    def _action(self, text: str, key, slot, visible: bool = True) -> QAction:
        act = QAction(text, self)
        if key is not None:
            act.setShortcut(QKeySequence(key))
        act.triggered.connect(slot)
        if visible:
            self.addAction(act)
        else:
            # Shortcut-only: the key works while its widget is visible, and the image
            # view is visible whenever editing makes sense (toolbar buttons would clutter).
            self.controller.view.addAction(act)
        return act

    def _on_tool(self, tool: str) -> None:
        self.tool_actions[tool].setChecked(True)

    def _on_radius(self, r: int) -> None:
        if self.size_slider.value() != r:
            self.size_slider.setValue(r)
        self.size_label.setText(f" r {r} px ")

    def refresh(self) -> None:
        ed = self.controller.editor
        self.undo_action.setEnabled(ed is not None and ed.can_undo)
        self.redo_action.setEnabled(ed is not None and ed.can_redo)
        self.reset_action.setEnabled(ed is not None and ed.model_mask is not None)
        h = ed.history if ed is not None else None
        self.undo_action.setText(f"Undo {h.undo_kind}" if h and h.undo_kind else "Undo")
        self.redo_action.setText(f"Redo {h.redo_kind}" if h and h.redo_kind else "Redo")
        for act in self.tool_actions.values():
            act.setEnabled(ed is not None or act.data() == NAVIGATE)
