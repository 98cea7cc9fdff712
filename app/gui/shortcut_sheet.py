"""Help → Keyboard shortcuts (and ?): every key the window answers to, read from its actions.

Built from the window's QActions when shown, so the sheet cannot drift from
the keys that work; the mouse gestures and the held key (Space), which are
not actions, are listed after them.
"""

from __future__ import annotations

from html import escape

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMenu, QTextBrowser, QVBoxLayout

from app.gui.review_keys import grade_keys

NOT_ACTIONS = (
    ("Space (hold)", "hide every overlay while held"),
    ("wheel", "zoom about the pointer; Ctrl+wheel zooms in finer steps"),
    ("right drag", "zoom; left drag pans (Pan / zoom tool)"),
    ("Esc / Enter while drawing", "cancel / close the polygon being drawn"),
)


def _group(act: QAction) -> str:
    if act.parent() is not None and act.parent().objectName() == "edit_toolbar":
        return "Editing"
    for obj in act.associatedObjects():
        if isinstance(obj, QMenu) and obj.title():
            return obj.title().replace("&", "")
        if obj.objectName() == "edit_toolbar":
            return "Editing"
    return "Review"


def shortcut_rows(window) -> list[tuple[str, str, str]]:
    """(group, keys, what) for each action of the window with a shortcut; grade keys as one row."""
    rows, seen = [], set()
    for act in window.findChildren(QAction):
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in act.shortcuts()]
        if not keys or act.objectName() == "grade_key" or id(act) in seen:
            continue
        seen.add(id(act))
        rows.append((_group(act), " / ".join(keys), act.text().replace("&", "").rstrip("…")))
    gk = grade_keys(window.grade_panel.scheme)
    rows.append(("Review", " ".join(gk), "grade: " + ", ".join(f"{k} → {g}" for k, g in gk.items())
                 + " (the model's grade accepts its result; another is set with the panel's reason)"))
    order = {"Review": 0, "View": 1, "Editing": 2}
    return sorted(rows, key=lambda r: (order.get(r[0], 3), r[0]))


class ShortcutSheet(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Keyboard shortcuts")
        self.text = QTextBrowser(self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(buttons)
        self.resize(620, 640)

    def refresh(self) -> None:
        html, group = [], None
        for g, keys, what in shortcut_rows(self.window_):
            if g != group:
                html.append(f"<tr><td colspan=2><h3>{escape(g)}</h3></td></tr>")
                group = g
            html.append(f"<tr><td><b>{escape(keys)}</b>&nbsp;&nbsp;</td><td>{escape(what)}</td></tr>")
        html.append("<tr><td colspan=2><h3>Mouse and held keys</h3></td></tr>")
        html += [f"<tr><td><b>{escape(k)}</b>&nbsp;&nbsp;</td><td>{escape(w)}</td></tr>" for k, w in NOT_ACTIONS]
        self.text.setHtml("<table>" + "".join(html) + "</table>")
