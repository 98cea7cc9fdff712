"""Mouse editing of the class mask in the image view: brush, eraser, polygon, fill, delete fragment.

``EditController`` is the tool the view calls (``ImageView.set_tool``; see
``app/gui/image_view.py`` for the protocol): it turns left-button presses,
drags and releases in image coordinates into ``LabelEditor`` calls and asks
the view to recolour only the dirty box. The editor edits ``view.mask`` in
place (the controller shows the editor's array), so nothing is copied while
painting. Right button and wheel keep zooming and panning.

The controller holds no pixels and no undo state of its own; those belong to
the ``LabelEditor`` of the current image, so switching images keeps each
image's history (``EditorManager``).
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsPathItem, QMessageBox

from app.core.brush import BBox
from app.core.label_edit import BACKGROUND, BLASTOMERE, FRAGMENT, LabelEditor
from app.gui.polygon_corners import PolygonCorners

NAVIGATE, BRUSH, ERASER, ERASE_BG, POLYGON, FLOOD, DELETE = (
    "navigate", "brush", "eraser", "erase to background", "polygon", "flood", "delete")
TOOLS = (NAVIGATE, BRUSH, ERASER, ERASE_BG, POLYGON, FLOOD, DELETE)
TOOL_LABELS = {NAVIGATE: "Pan / zoom", BRUSH: "Brush", ERASER: "Eraser", ERASE_BG: "Erase to background",
               POLYGON: "Polygon", FLOOD: "Fill region", DELETE: "Delete fragment"}
PAINTING = (BRUSH, ERASER, ERASE_BG)
# A fill changing more than this share of the embryo's pixels asks first: one click on a cell
# once recoloured every touching cell (7 % -> 99.5 %) and was saved at once.
FILL_ASK_SHARE = 0.25
MIN_RADIUS, MAX_RADIUS = 0, 200
Z_CURSOR = 100


def image_to_rc(x: float, y: float) -> tuple[float, float]:
    """View coordinates (pixel (r, c) covers [c, c+1)) to the editor's pixel-centre (row, col)."""
    return y - 0.5, x - 0.5


class EditController(QObject):
    edited = Signal(object)  # BBox of every change, live (also mid-stroke)
    committed = Signal()  # a gesture, undo, redo or reset finished: a save point
    stats_changed = Signal(object)  # MaskStats
    history_changed = Signal()
    tool_changed = Signal(str)
    radius_changed = Signal(int)
    value_changed = Signal(int)
    editor_changed = Signal(object)  # LabelEditor or None

    def __init__(self, view, parent: QObject | None = None):
        super().__init__(parent)
        self.view = view
        self.editor: LabelEditor | None = None
        self.tool = NAVIGATE
        self.radius = 6
        self.value = FRAGMENT
        self._last: tuple[float, float] | None = None  # previous drag point, (row, col)
        self._poly: list[tuple[float, float]] = []
        self._poly_dragged = False
        self._hover_xy: tuple[float, float] | None = None
        self._erase_only_fragment = False
        self.confirm_fill = self._ask_large_fill  # (share of the embryo) -> go ahead?
        self.corners = PolygonCorners(view)

        pen = QPen(QColor(255, 255, 255, 220))
        pen.setCosmetic(True)  # one screen pixel wide at any zoom
        self._cursor = QGraphicsEllipseItem()
        self._cursor.setPen(pen)
        self._cursor.setZValue(Z_CURSOR)
        self._cursor.setVisible(False)
        self._cursor.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        ppen = QPen(QColor(255, 220, 0, 230))
        ppen.setCosmetic(True)
        self._poly_item = QGraphicsPathItem()
        self._poly_item.setPen(ppen)
        self._poly_item.setZValue(Z_CURSOR)
        self._poly_item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        view.view_box.addItem(self._cursor, ignoreBounds=True)
        view.view_box.addItem(self._poly_item, ignoreBounds=True)

        # Esc / Enter act only while a gesture is in progress, and then win over the window's
        # own Esc (cancel grading): the view claims them through ShortcutOverride.
        view.graphics.installEventFilter(self)

    def eventFilter(self, obj, ev):  # noqa: N802 (Qt naming)
        t = ev.type()
        if t in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and self.busy:
            key = ev.key()
            if key in (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter):
                ev.accept()
                if t == QEvent.Type.KeyPress:
                    if key == Qt.Key.Key_Escape:
                        self.cancel()
                    else:
                        self.finish_polygon()
                return True
        return False

    @property
    def busy(self) -> bool:
        """A drag or a polygon is in progress."""
        return bool(self._poly) or self._last is not None

    # -- configuration ---------------------------------------------------------------------
    def set_editor(self, editor: LabelEditor | None) -> None:
        """Edit ``editor`` (the current image's); the view shows its live mask array."""
        if editor is not None and editor is self.editor:
            # Re-shown (e.g. regraded): keep any gesture in progress, just show the live array.
            if self.view.mask is not editor.mask:
                self.view.set_mask(editor.mask)
            return
        self.cancel()
        if self.editor is not None:
            self.editor.remove_listener(self._on_region)
        self.editor = editor
        if editor is not None:
            editor.add_listener(self._on_region)
            if self.view.mask is not editor.mask:
                self.view.set_mask(editor.mask)
        self.editor_changed.emit(editor)
        self.history_changed.emit()
        if editor is not None:
            self.stats_changed.emit(editor.stats)

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; choose one of {TOOLS}")
        if tool == self.tool:
            return
        self.cancel()
        self.tool = tool
        # Navigate hands the left button back to panning.
        self.view.set_tool(None if tool == NAVIGATE else self)
        self._update_cursor()
        self.tool_changed.emit(tool)

    def set_radius(self, radius: int) -> None:
        radius = int(min(max(radius, MIN_RADIUS), MAX_RADIUS))
        if radius != self.radius:
            self.radius = radius
            self._update_cursor()
            self.radius_changed.emit(radius)

    def grow(self) -> None:
        # Multiplicative steps: +1 px is useless at radius 80, x2 is useless at radius 2.
        self.set_radius(max(self.radius + 1, round(self.radius * 1.25)))

    def shrink(self) -> None:
        self.set_radius(min(self.radius - 1, round(self.radius / 1.25)))

    def set_value(self, value: int) -> None:
        if value not in (BLASTOMERE, FRAGMENT):
            raise ValueError("paint class must be 1 (blastomere) or 2 (fragment)")
        if value != self.value:
            self.value = value
            self.value_changed.emit(value)

    @property
    def paint_value(self) -> int:
        return BACKGROUND if self.tool in (ERASER, ERASE_BG) else self.value

    def _sweep(self, a, b) -> None:
        if self.tool == ERASER:
            self.editor.erase_segment(a, b, self.radius, self._erase_only_fragment)
        else:
            self.editor.paint_segment(a, b, self.radius, self.paint_value)

    # -- history ---------------------------------------------------------------------------
    def undo(self) -> None:
        if self.editor is not None:
            self.cancel()
            self._done(self.editor.undo())

    def redo(self) -> None:
        if self.editor is not None:
            self.cancel()
            self._done(self.editor.redo())

    def reset_to_model(self) -> None:
        if self.editor is not None and self.editor.model_mask is not None:
            self.cancel()
            self._done(self.editor.reset_to())

    def cancel(self) -> None:
        """Abandon the gesture in progress (the polygon being drawn, a drag)."""
        if self.editor is not None and self.editor.in_stroke:
            self.editor.abort_stroke()
        self._last = None
        self._poly.clear()
        self._poly_dragged = False
        self._poly_item.setPath(QPainterPath())
        self.corners.clear()

    def _done(self, changed) -> None:
        """After a gesture: ``changed`` is the gesture's box or delta, None when nothing changed."""
        self.history_changed.emit()
        if changed is not None:
            self.committed.emit()

    # -- the view's tool protocol ----------------------------------------------------------
    def press(self, x: float, y: float, ev=None) -> None:
        if self.editor is None:
            return
        p = image_to_rc(x, y)
        if self.tool in PAINTING:
            # A drag is reported once the mouse has moved a few pixels; start where it was pressed.
            start = self._drag_start(ev) or p
            # A stroke begun on a fragment erases fragment only: the cell around it stays whole.
            self._erase_only_fragment = self._class_at(start) == FRAGMENT
            self.editor.begin_stroke(self.tool)
            self._last = p
            self._sweep(start, p)
        elif self.tool == POLYGON and self.corners.grab(x, y, self.editor):
            return
        elif self.tool == POLYGON:
            self.corners.clear()
            if _is_drag(ev):
                start = self._drag_start(ev)
                if not self._poly and start is not None:
                    self._poly.append(start)
                self._poly_dragged = True
            self._poly.append(p)
            self._draw_polygon()

    def move(self, x: float, y: float, ev=None) -> None:
        if self.editor is None:
            return
        p = image_to_rc(x, y)
        if self.tool in PAINTING and self._last is not None:
            self._sweep(self._last, p)
            self._last = p
        elif self.tool == POLYGON and self.corners.dragging:
            self.corners.move(x, y)
        elif self.tool == POLYGON and self._poly:
            if _is_drag(ev):  # the press became a drag: a lasso, closed on release
                self._poly_dragged = True
            last = self._poly[-1]
            if math.hypot(p[0] - last[0], p[1] - last[1]) >= 1.0:  # lasso: one vertex per pixel
                self._poly.append(p)
                self._draw_polygon()
        self.hover(x, y)

    def release(self, x: float, y: float, ev=None) -> None:
        if self.editor is None:
            return
        p = image_to_rc(x, y)
        if self.tool in PAINTING:
            if self._last is not None and p != self._last:
                self._sweep(self._last, p)
            self._last = None
            self._done(self.editor.end_stroke())
        elif self.tool == POLYGON and self.corners.dragging:
            self._done(self.corners.drop(x, y, self.editor))
        elif self.tool == POLYGON:
            # A lasso drag closes on release; clicked vertices close on double-click or Enter.
            if self._poly_dragged or _is_double(ev):
                self.finish_polygon()
        elif self.tool == FLOOD:
            self._fill(int(round(p[0])), int(round(p[1])))
        elif self.tool == DELETE:
            self._done(self.editor.delete_component(int(round(p[0])), int(round(p[1]))))

    def hover(self, x: float, y: float) -> None:
        self._hover_xy = (x, y)
        self._update_cursor()

    def finish_polygon(self) -> None:
        pts, self._poly = self._poly, []
        self._poly_dragged = False
        self._poly_item.setPath(QPainterPath())
        if self.editor is not None and self.tool == POLYGON and len(pts) >= 3:
            self._done(self.corners.fill(pts, self.value, self.editor))

    def _fill(self, row: int, col: int) -> None:
        """Fill up to the membranes seen in the image; ask first when that is much of the embryo."""
        region = self.editor.fill_region(row, col, image=self.view.image)
        if region is None:
            return
        box, hit = region
        changed = int(np.count_nonzero(hit & (self.editor.mask[box.slices] != self.value)))
        share = changed / max(self.editor.embryo_pixels(), 1)
        if changed and share > FILL_ASK_SHARE and not self.confirm_fill(share):
            return
        self._done(self.editor.fill(box, hit, self.value))

    def _ask_large_fill(self, share: float) -> bool:
        answer = QMessageBox.question(
            self.view.window(), "Large fill",
            f"This fill changes {100 * share:.0f} % of the embryo (more than "
            f"{100 * FILL_ASK_SHARE:.0f} %). Fill anyway? (Undo takes it back.)")
        return answer == QMessageBox.StandardButton.Yes

    def _class_at(self, p) -> int | None:
        r, c = int(round(p[0])), int(round(p[1]))
        m = self.editor.mask
        return int(m[r, c]) if 0 <= r < m.shape[0] and 0 <= c < m.shape[1] else None

    # -- drawing ---------------------------------------------------------------------------
    def _on_region(self, box: BBox) -> None:
        self.view.update_mask_region(box.y0, box.y1, box.x0, box.x1)
        self.edited.emit(box)
        self.stats_changed.emit(self.editor.stats)

    def _drag_start(self, ev) -> tuple[float, float] | None:
        if not _is_drag(ev):
            return None
        q = self.view.image_item.mapFromScene(ev.buttonDownScenePos())
        return image_to_rc(q.x(), q.y())

    def _update_cursor(self) -> None:
        show = self.tool in PAINTING and self._hover_xy is not None
        self._cursor.setVisible(show)
        if show:
            x, y = self._hover_xy
            r = self.radius + 0.5  # enclose the painted pixels, not just their centres
            self._cursor.setRect(QRectF(x - r, y - r, 2 * r, 2 * r))

    def _draw_polygon(self) -> None:
        path = QPainterPath()
        if self._poly:
            path.moveTo(QPointF(self._poly[0][1] + 0.5, self._poly[0][0] + 0.5))
            for r, c in self._poly[1:]:
                path.lineTo(QPointF(c + 0.5, r + 0.5))
        self._poly_item.setPath(path)

    def detach(self) -> None:
        self.set_editor(None)
        self.view.set_tool(None)
        self.view.graphics.removeEventFilter(self)
        for item in (self._cursor, self._poly_item):
            self.view.view_box.removeItem(item)
        self.corners.detach()


def _is_drag(ev) -> bool:
    return ev is not None and hasattr(ev, "buttonDownScenePos") and hasattr(ev, "isStart")


def _is_double(ev) -> bool:
    return ev is not None and hasattr(ev, "double") and bool(ev.double())
