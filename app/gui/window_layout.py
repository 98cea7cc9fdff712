"""How the window shares its width: the image first, the folder list and the panels beside it.

An embryologist looks at the image; the panels are read in passing. So the
view takes every pixel the side columns do not need: on a 1600 px wide
window it gets more than 60 % of the width (``tests/gui/test_layout.py``
measures it). The right-hand panels sit in a scroll area: a warning
appearing, a reason wrapping or a column filling scrolls them, and never
moves the image, squeezes it or grows the window. The folder list is
compact and can be hidden (View → Folder list, Ctrl+Shift+L).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QVBoxLayout, QWidget

FOLDER_WIDTH, FOLDER_MIN = 290, 170
RIGHT_WIDTH = 300
VIEW_MIN_W, VIEW_MIN_H = 320, 240
WINDOW_MIN_W, WINDOW_MIN_H = 800, 550
DEFAULT_SIZE = (1600, 1000)


class SidePanel(QScrollArea):
    """The right-hand column: fixed width, scrolls vertically when its content is taller."""

    def __init__(self, content: QWidget, parent=None):
        super().__init__(parent)
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # The content is laid out one scroll bar narrower, so the bar appearing moves nothing.
        bar = self.verticalScrollBar().sizeHint().width()
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        content.setFixedWidth(RIGHT_WIDTH - bar)
        self.setFixedWidth(RIGHT_WIDTH)


def build_layout(window) -> None:
    """Folder list | image view | scrolling right panel, as ``window``'s central widget.

    Sets ``window.right`` (the panels' container: add widgets to its layout),
    ``window.side_panel`` (its scroll area), ``window.splitter`` and the View
    menu's folder-list toggle ``window.folder_list_action``.
    """
    window.right = QWidget(window)
    rl = QVBoxLayout(window.right)
    rl.setContentsMargins(4, 0, 4, 0)
    rl.addWidget(window.grade_panel)
    rl.addWidget(window.overlay_controls)
    rl.addStretch(1)
    window.side_panel = SidePanel(window.right, window)

    window.folder_panel.setMinimumWidth(FOLDER_MIN)
    window.view.setMinimumSize(VIEW_MIN_W, VIEW_MIN_H)
    sp = window.splitter = QSplitter(Qt.Orientation.Horizontal, window)
    sp.addWidget(window.folder_panel)
    sp.addWidget(window.view)
    sp.addWidget(window.side_panel)
    sp.setChildrenCollapsible(False)
    sp.setCollapsible(0, True)  # the list may be dragged shut; the view and panels may not
    for i, stretch in enumerate((0, 1, 0)):  # a bigger window gives its width to the image
        sp.setStretchFactor(i, stretch)
    sp.setSizes([FOLDER_WIDTH, DEFAULT_SIZE[0] - FOLDER_WIDTH - RIGHT_WIDTH, RIGHT_WIDTH])
    window.setCentralWidget(sp)
    window.setMinimumSize(WINDOW_MIN_W, WINDOW_MIN_H)

    act = window.folder_list_action = QAction("Folder list", window)
    act.setCheckable(True)
    act.setChecked(True)
    act.setShortcut(QKeySequence("Ctrl+Shift+L"))
    act.toggled.connect(window.folder_panel.setVisible)


def fit_screen(size: tuple[int, int]) -> tuple[int, int]:
    """``size``, shrunk to the primary screen's free area (a 1366 px laptop gets its own width)."""
    from PySide6.QtGui import QGuiApplication

    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return size
    avail = screen.availableGeometry()
    return min(size[0], max(avail.width(), WINDOW_MIN_W)), min(size[1], max(avail.height(), WINDOW_MIN_H))
