"""The corners of the polygon just closed stay editable: drag one and the shape is filled again.

A painter closes a polygon, sees one corner slightly off and wants to move
that corner, not draw the shape again. After a polygon is filled its
corners show as small squares; dragging one (Polygon tool) replaces the
fill with the polygon through the moved corner, as one undo step. The
corners go away when anything else changes the mask (another gesture, undo,
another image), since the fill they describe is no longer the last step.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

HANDLE_PX, GRAB_PX = 4, 9  # half side of a drawn corner, and how near a press grabs one (screen px)
Z_CORNERS = 101


def _rc(x: float, y: float) -> tuple[float, float]:
    return y - 0.5, x - 0.5  # view coordinates to pixel-centre (row, col), as edit_tools.image_to_rc


class PolygonCorners:
    def __init__(self, view):
        self.view = view
        pen = QPen(QColor(255, 220, 0, 255))
        pen.setCosmetic(True)
        self.item = QGraphicsPathItem()
        self.item.setPen(pen)
        self.item.setBrush(QColor(255, 220, 0, 120))
        self.item.setZValue(Z_CORNERS)
        self.item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        view.view_box.addItem(self.item, ignoreBounds=True)
        self.pts: list[tuple[float, float]] = []
        self.value = 0
        self.editor = None
        self.version = -1  # the editor's version right after our fill
        self.dragging: int | None = None

    def fill(self, pts, value: int, editor):
        """Fill the polygon and keep its corners editable; returns the changed box."""
        box = editor.fill_polygon(pts, value)
        if box is None:
            self.clear()
            return None
        self.pts, self.value, self.editor, self.version = list(pts), value, editor, editor.version
        self.dragging = None
        self._draw()
        return box

    def grab(self, x: float, y: float, editor) -> bool:
        """A press: True if it lands on a corner of the last polygon (which is then dragged)."""
        if not self.pts or editor is not self.editor or editor.version != self.version:
            self.clear()
            return False
        px = max(self.view.view_box.viewPixelSize())
        r, c = _rc(x, y)
        d2, i = min(((pr - r) ** 2 + (pc - c) ** 2, i) for i, (pr, pc) in enumerate(self.pts))
        if d2 > (GRAB_PX * px) ** 2:
            return False
        self.dragging = i
        return True

    def move(self, x: float, y: float) -> None:
        if self.dragging is not None:
            self.pts[self.dragging] = _rc(x, y)
            self._draw()

    def drop(self, x: float, y: float, editor):
        """The corner is let go: the old fill is undone and the moved polygon filled (one step)."""
        self.move(x, y)
        self.dragging = None
        if editor is not self.editor or editor.version != self.version:
            self.clear()
            return None
        editor.undo()
        return self.fill(self.pts, self.value, editor)

    def clear(self) -> None:
        self.pts, self.editor, self.dragging = [], None, None
        self.item.setPath(QPainterPath())

    def detach(self) -> None:
        self.clear()
        self.view.view_box.removeItem(self.item)

    def _draw(self) -> None:
        path = QPainterPath()
        if self.pts:
            px = max(self.view.view_box.viewPixelSize())
            h = HANDLE_PX * px
            path.moveTo(self.pts[0][1] + 0.5, self.pts[0][0] + 0.5)
            for r, c in self.pts[1:] + self.pts[:1]:
                path.lineTo(c + 0.5, r + 0.5)
            for r, c in self.pts:
                path.addRect(QRectF(c + 0.5 - h, r + 0.5 - h, 2 * h, 2 * h))
        self.item.setPath(path)
