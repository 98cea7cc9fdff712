"""The folder list's columns: compact by default, the rest one right-click away on the header.

The list shares the window with the image, so by default it shows what a
reviewer scans for (name, status and who, fragmentation, grade) and hides
the embryo/well and ± columns; right-clicking the header shows or hides any
column. The hours column shows only when every listed name carries its
hours: a column that is blank for most frames says nothing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHeaderView, QMenu, QTableView

HOURS_SAMPLE = 200  # names parsed to decide whether hours are known (parsing is per row)


def set_up_columns(table: QTableView, columns, widths: dict[int, int], hidden: set[int],
                   name_col: int) -> None:
    table.setWordWrap(True)  # a long name takes a second line (rows are a thumbnail tall)
    # Wrapped first, cut at the end only past two lines: the end of a time-lapse name (well,
    # run) is what tells frames apart, and cutting the middle made names unreadable.
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    hh = table.horizontalHeader()
    # Fixed widths: ResizeToContents would ask every row of a 10,000-image folder for its data.
    hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    hh.setStretchLastSection(False)
    for c, w in widths.items():
        hh.resizeSection(c, w)
    hh.setSectionResizeMode(name_col, QHeaderView.ResizeMode.Stretch)
    hh.setMinimumSectionSize(30)
    for c in hidden:
        table.setColumnHidden(c, True)
    hh.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    hh.customContextMenuRequested.connect(lambda pos: _column_menu(table, columns, name_col, pos))


def _column_menu(table: QTableView, columns, name_col: int, pos) -> None:
    menu = QMenu(table)
    for c, title in enumerate(columns):
        if c == name_col:
            continue
        act = QAction(title, menu)
        act.setCheckable(True)
        act.setChecked(not table.isColumnHidden(c))
        act.toggled.connect(lambda on, c=c: table.setColumnHidden(c, not on))
        menu.addAction(act)
    menu.exec(table.horizontalHeader().mapToGlobal(pos))


def hours_known(entries) -> bool:
    """True when the listed names (a sample of them) all carry the frame's hours."""
    sample = entries[:HOURS_SAMPLE]
    return bool(sample) and all(e.hours is not None for e in sample)
