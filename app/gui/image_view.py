"""The image view: the embryo image with its mask and attention overlays (pyqtgraph).

One ``pg.ViewBox`` holds several ``pg.ImageItem``s of the same shape at the
same position: the image (z 0), one heatmap per attention gate (z 10+) and
the class mask (z 50). Because they share the ViewBox and the pixel grid,
they stay aligned through zoom, pan and any device-pixel ratio (HiDPI): the
tests compare the items' mapped scene rects at QT_SCALE_FACTOR 1.25 / 1.5.

How an editing tool attaches (brush, eraser, polygon...)
-------------------------------------------------------
Give the view an object with any of ``press(x, y, ev)``, ``move(x, y, ev)``,
``release(x, y, ev)`` and ``hover(x, y)`` methods::

    view.set_tool(BrushTool(...))   # None gives the left button back to panning

``x, y`` are float image coordinates (column, row; pixel (r, c) covers
[c, c+1) x [r, r+1)). While a tool is set the left button goes to the tool
(a drag calls press, move..., release; a click calls press then release);
the right button and the wheel still zoom and pan. After changing
``view.mask[y0:y1, x0:x1]`` in place, call ``view.update_mask_region(y0, y1,
x0, x1)``: only that box is recoloured (O(box), not O(image)). ``set_mask``
replaces the whole mask (e.g. after undo of a large step).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.gui.overlays import (
    AttentionScale,
    MaskStyle,
    attention_scale,
    colour_attention,
    colour_mask,
    colour_mask_region,
    display_levels,
    embryo_region,
    percentile_levels,
)

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

Z_IMAGE, Z_ATTENTION, Z_MASK = 0, 10, 50
# Zoom per wheel notch: pyqtgraph's default (x1.35) overshoots a cell in one notch; Ctrl is finer
# still, for a fragment's edge (napari and Cellpose step about as finely).
WHEEL_STEP, FINE_WHEEL_STEP, KEY_STEP = 1.12, 1.03, 1.25
EMBRYO_MARGIN = 0.08  # of the embryo box's side, so the zona stays in view
VIEW_EMBRYO, VIEW_FRAME, VIEW_MANUAL = "embryo", "frame", "manual"


class ToolViewBox(pg.ViewBox):
    """A ViewBox that hands left-button events to an editing tool when one is set."""

    def __init__(self, owner: ImageView):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self._owner = owner

    def _image_xy(self, scene_pos) -> tuple[float, float]:
        p = self._owner.image_item.mapFromScene(scene_pos)
        return p.x(), p.y()

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (Qt naming)
        tool = self._owner.tool
        if tool is not None and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            x, y = self._image_xy(ev.scenePos())
            if ev.isStart():
                # The press was already handed over when the button went down (a dab at once).
                _call(tool, "move" if self._owner.take_early_press() else "press", x, y, ev)
            elif ev.isFinish():
                _call(tool, "release", x, y, ev)
            else:
                _call(tool, "move", x, y, ev)
            return
        super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev):  # noqa: N802
        tool = self._owner.tool
        if tool is not None and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            x, y = self._image_xy(ev.scenePos())
            if not self._owner.take_early_press():
                _call(tool, "press", x, y, ev)
            _call(tool, "release", x, y, ev)
            return
        super().mouseClickEvent(ev)

    def wheelEvent(self, ev, axis=None):  # noqa: N802
        fine = bool(ev.modifiers() & Qt.KeyboardModifier.ControlModifier)
        notches = ev.delta() / 120.0
        s = (FINE_WHEEL_STEP if fine else WHEEL_STEP) ** -notches
        center = pg.Point(pg.functions.invertQTransform(self.childGroup.transform()).map(ev.pos()))
        self._resetTarget()
        self.scaleBy((s, s), center)
        ev.accept()
        self.sigRangeChangedManually.emit([True, True])


def _call(tool, name, *args):
    fn = getattr(tool, name, None)
    if fn is not None:
        fn(*args)


class ImageView(QWidget):
    """Image + overlays. State (mask, attention, styles) lives here; colouring lives in overlays.py."""

    levels_changed = Signal(float, float)
    cursor_moved = Signal(int, int)  # image column, row under the mouse
    attention_scaled = Signal(object)  # {gate: AttentionScale} of the prediction shown

    def __init__(self, parent=None):
        super().__init__(parent)
        self.graphics = pg.GraphicsView(background="#202124")
        self.view_box = ToolViewBox(self)
        self.graphics.setCentralItem(self.view_box)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.graphics)

        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setZValue(Z_IMAGE)
        self.mask_item = pg.ImageItem(axisOrder="row-major")
        self.mask_item.setZValue(Z_MASK)
        self.view_box.addItem(self.image_item)
        self.view_box.addItem(self.mask_item)
        self.attention_items: dict[str, pg.ImageItem] = {}

        self.tool = None
        self.image: np.ndarray | None = None
        self.mask: np.ndarray | None = None
        self.attention: dict[str, np.ndarray] = {}
        self.attention_scales: dict[str, AttentionScale] = {}
        self._attention_region: np.ndarray | None = None
        self.mask_style = MaskStyle()
        self.attention_opacity: dict[str, float] = {}
        self.levels: tuple[float, float] = (0.0, 255.0)
        self._mask_rgba: np.ndarray | None = None
        self._hidden = False
        self._early_press = False
        self.embryo_box: tuple[int, int, int, int] | None = None
        self.view_mode = VIEW_EMBRYO  # what a new image opens at; a manual zoom keeps its range
        self._setting_range = False
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.view_box.sigRangeChangedManually.connect(self._on_manual_range)
        self.graphics.viewport().installEventFilter(self)

    # -- content --------------------------------------------------------------------------
    def set_image(self, image: np.ndarray | None, keep_view: bool = False) -> None:
        """Show an image (uint8/uint16, gray or RGB); levels from ``display_levels``."""
        first = self.image is None or image is None or self.image.shape[:2] != image.shape[:2]
        self.image = image
        self.embryo_box = None  # the new image's box comes with its prediction
        if image is None:
            self.image_item.clear()
            self.set_prediction_overlays(None, {})
            return
        self.levels = display_levels(image)
        self.image_item.setImage(image, autoLevels=False, levels=self.levels)
        self.levels_changed.emit(*self.levels)
        if first or not keep_view or self.view_mode != VIEW_MANUAL:
            self._set_range(self._frame_rect(), 0.02)  # until the embryo's box is known

    def set_embryo_box(self, box) -> None:
        """The graded crop (x0, y0, x1, y1) of the image shown; zooms to it in embryo mode."""
        self.embryo_box = None if box is None else tuple(int(v) for v in box)
        if self.view_mode == VIEW_EMBRYO:
            self._set_range(self._embryo_rect(), 0)

    def set_levels(self, low: float, high: float) -> None:
        self.levels = (float(low), float(max(high, low + 1e-6)))
        if self.image is not None:
            self.image_item.setLevels(self.levels)
        self.levels_changed.emit(*self.levels)

    def auto_levels(self) -> None:
        if self.image is not None:
            self.set_levels(*percentile_levels(self.image))

    def set_prediction_overlays(self, mask: np.ndarray | None, attention: dict[str, np.ndarray]) -> None:
        """The model's (or the corrected) class mask and the gates' attention maps."""
        self.set_mask(mask)
        self.attention = dict(attention or {})
        shape = mask.shape if mask is not None else (next(iter(self.attention.values())).shape
                                                     if self.attention else None)
        self._attention_region = embryo_region(mask, shape) if shape is not None and self.attention else None
        self.attention_scales = {k: attention_scale(a, self._attention_region)
                                 for k, a in self.attention.items()}
        for name in list(self.attention_items):
            if name not in self.attention:
                self.view_box.removeItem(self.attention_items.pop(name))
        for i, name in enumerate(sorted(self.attention)):
            item = self.attention_items.get(name)
            if item is None:
                item = pg.ImageItem(axisOrder="row-major")
                item.setZValue(Z_ATTENTION + i)
                self.view_box.addItem(item)
                self.attention_items[name] = item
            self.attention_opacity.setdefault(name, 0.0)
            self._render_attention(name)
        self.attention_scaled.emit(dict(self.attention_scales))

    def set_mask(self, mask: np.ndarray | None) -> None:
        self.mask = mask
        if mask is None:
            self._mask_rgba = None
            self.mask_item.clear()
            return
        self._mask_rgba = colour_mask(mask, self.mask_style)
        # levels=None: uint8 RGBA goes to the screen as is. With explicit
        # levels pyqtgraph rescales the whole overlay on every update, which
        # made each brush segment cost 18 ms at 2048² and 78 ms at 4096².
        self.mask_item.setImage(self._mask_rgba, autoLevels=False, levels=None)
        self.mask_item.setVisible(not self._hidden)

    def update_mask_region(self, y0: int, y1: int, x0: int, x1: int) -> None:
        """Recolour only ``mask[y0:y1, x0:x1]`` (after an edit in place)."""
        if self.mask is None or self._mask_rgba is None:
            return
        colour_mask_region(self._mask_rgba, self.mask, self.mask_style, y0, y1, x0, x1)
        self.mask_item.updateImage()

    # -- styles ---------------------------------------------------------------------------
    def set_mask_opacity(self, opacity: float) -> None:
        self.mask_style.opacity = float(opacity)
        self._restyle_mask()

    def set_outline(self, outline: bool) -> None:
        self.mask_style.outline = bool(outline)
        self._restyle_mask()

    def set_class_visible(self, cls: int, visible: bool) -> None:
        self.mask_style.visible[cls] = bool(visible)
        self._restyle_mask()

    def set_attention_opacity(self, name: str, opacity: float) -> None:
        self.attention_opacity[name] = float(opacity)
        if name in self.attention:
            self._render_attention(name)

    def set_overlays_hidden(self, hidden: bool) -> None:
        """Hide every overlay at once (held Space); the styles are kept."""
        self._hidden = bool(hidden)
        self.mask_item.setVisible(not hidden and self.mask is not None)
        for name, item in self.attention_items.items():
            item.setVisible(not hidden and self.attention_opacity.get(name, 0) > 0)

    @property
    def overlays_hidden(self) -> bool:
        return self._hidden

    def mask_rgba(self) -> np.ndarray | None:
        return self._mask_rgba

    def attention_rgba(self, name: str) -> np.ndarray | None:
        item = self.attention_items.get(name)
        return None if item is None else item.image

    def _restyle_mask(self) -> None:
        if self.mask is not None:
            self.set_mask(self.mask)

    def _render_attention(self, name: str) -> None:
        item = self.attention_items[name]
        op = self.attention_opacity.get(name, 0.0)
        scale = self.attention_scales[name]
        # invisible, or flat (the legend says so): skip the colouring, the costliest step of showing
        if op <= 0 or scale.flat:
            item.clear()
            item.setVisible(False)
            return
        item.setImage(colour_attention(self.attention[name], self._attention_region, scale, op),
                      autoLevels=False, levels=None)
        item.setVisible(not self._hidden)

    # -- navigation -----------------------------------------------------------------------
    def fit(self) -> None:
        """The whole frame (F); images shown next open the same way."""
        self.view_mode = VIEW_FRAME
        self._set_range(self._frame_rect(), 0.02)

    def zoom_to_embryo(self) -> None:
        """The embryo fills the view (the default); images shown next open the same way."""
        self.view_mode = VIEW_EMBRYO
        self._set_range(self._embryo_rect(), 0)

    def zoom(self, factor: float) -> None:
        """Zoom about the view's centre (+ and -); > 1 zooms in."""
        if self.image is not None:
            self.view_mode = VIEW_MANUAL
            self.view_box.scaleBy((1 / factor, 1 / factor))

    def _frame_rect(self) -> QRectF | None:
        if self.image is None:
            return None
        h, w = self.image.shape[:2]
        return QRectF(0, 0, w, h)

    def _embryo_rect(self) -> QRectF | None:
        frame = self._frame_rect()
        if frame is None or self.embryo_box is None:
            return frame
        x0, y0, x1, y1 = self.embryo_box
        m = EMBRYO_MARGIN * max(x1 - x0, y1 - y0)
        r = QRectF(x0 - m, y0 - m, x1 - x0 + 2 * m, y1 - y0 + 2 * m).intersected(frame)
        return r if r.width() > 1 and r.height() > 1 else frame

    def _set_range(self, rect: QRectF | None, padding: float) -> None:
        if rect is not None:
            self._setting_range = True
            try:
                self.view_box.setRange(rect, padding=padding)
            finally:
                self._setting_range = False

    def _on_manual_range(self, *_a) -> None:
        if not self._setting_range:
            self.view_mode = VIEW_MANUAL

    def one_to_one(self) -> None:
        """One image pixel per (logical) screen pixel, centred on the current view centre."""
        if self.image is None:
            return
        vr = self.view_box.viewRect()
        c = vr.center()
        w, h = self.view_box.width(), self.view_box.height()
        self.view_mode = VIEW_MANUAL
        self.view_box.setRange(QRectF(c.x() - w / 2, c.y() - h / 2, w, h), padding=0)

    def set_tool(self, tool) -> None:
        """Attach an editing tool (see the module docstring); None detaches."""
        self.tool = tool

    def eventFilter(self, obj, ev):  # noqa: N802 (Qt naming)
        # pyqtgraph reports a press only once the mouse moves (a drag) or is released (a click);
        # a painter expects the dab under the cursor the moment the button goes down.
        if (ev.type() == QEvent.Type.MouseButtonPress and ev.button() == Qt.MouseButton.LeftButton
                and self.tool is not None and self.image is not None):
            p = self.image_item.mapFromScene(self.graphics.mapToScene(ev.position().toPoint()))
            self._early_press = True
            _call(self.tool, "press", p.x(), p.y(), None)
        return False

    def take_early_press(self) -> bool:
        """True once after a press already handed to the tool (the drag or click continues it)."""
        taken, self._early_press = self._early_press, False
        return taken

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self.image is None:
            return
        p = self.image_item.mapFromScene(scene_pos)
        x, y = int(np.floor(p.x())), int(np.floor(p.y()))
        h, w = self.image.shape[:2]
        if 0 <= x < w and 0 <= y < h:
            self.cursor_moved.emit(x, y)
            if self.tool is not None:
                _call(self.tool, "hover", p.x(), p.y())
