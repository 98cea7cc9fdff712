"""Reviewing from the keyboard: move, accept and go on, jump to the next image that needs a look, grade.

Keys (also in Help → Keyboard shortcuts, built from these actions):

- Left / Right, A / D, Up / Down: previous / next image (over the image or the list)
- Enter: done with this image, next: accepts the model's result, or keeps the
  correction made here, and moves on
- U: next image not reviewed yet; Shift+U: next borderline (⚑) one not reviewed yet
- grade keys (Istanbul 1–3, EQC 0–4, ASEBIR 1–4 for A–D): the model's grade
  accepts its result; another grade is set by hand with the reason chosen
  in the correction panel ("mask wrong" unless changed)
- ? or F1: the shortcut sheet

Zoom keys live in the View menu (Z embryo, F whole frame, + / −, Ctrl+1 1:1):
digits are grades, so 1:1 moved to Ctrl+1. The decisions go through the
editing part (``window.editing``), which owns the image's correction state;
without it the keys say so in the status bar.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from app.gui.entries import CORRECTED, ERROR, REVIEWED
from model.grading import get_scheme

MAX_GRADE_KEYS = 9


def grade_keys(scheme: str) -> dict[str, str]:
    """Key -> grade label: a one-digit label is its own key, other labels go by position (1, 2...)."""
    labels = get_scheme(scheme).labels
    if all(len(g) == 1 and g.isdigit() for g in labels):
        return {g: g for g in labels}
    return {str(i): g for i, g in enumerate(labels[:MAX_GRADE_KEYS], start=1)}


class ReviewKeys:
    def __init__(self, window):
        self.window = w = window
        self.actions: list[QAction] = []
        for text, keys, delta in (("Previous image", ("Left", "A", "Up"), -1),
                                  ("Next image", ("Right", "D", "Down"), 1)):
            act = self._action(text, keys, lambda _c=False, d=delta: w.folder_panel.step(d), window_wide=False)
            # Over the image and over the list (where Up/Down already move the table).
            w.view.addAction(act)
            w.folder_panel.addAction(act)
        self.accept_next = self._action("Done, next image (accept the model's result or keep the "
                                        "correction)", ("Return", "Enter"), self.done_and_next)
        self.next_unreviewed = self._action("Next image not reviewed yet", ("U",),
                                            lambda: self.jump(borderline=False))
        self.next_borderline = self._action("Next borderline image (⚑) not reviewed yet", ("Shift+U",),
                                            lambda: self.jump(borderline=True))
        # "?" arrives with Shift held on most layouts, and Qt matches the modifier too.
        self.sheet_action = self._action("Keyboard shortcuts", ("?", "Shift+?", "F1"), self.show_sheet)
        self.grade_actions: dict[str, QAction] = {}
        for d in "0123456789":
            act = self._action(f"Grade key {d}", (d,), lambda _c=False, d=d: self.grade_key(d))
            act.setObjectName("grade_key")  # the sheet lists the scheme's keys in one row
            self.grade_actions[d] = act
        help_menu = w.menuBar().addMenu("&Help")
        help_menu.addAction(self.sheet_action)
        self.sheet = None

    def _action(self, text: str, keys, slot, window_wide: bool = True) -> QAction:
        act = QAction(text, self.window)
        act.setShortcuts([QKeySequence(k) for k in keys])
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut if window_wide
                               else Qt.ShortcutContext.WidgetWithChildrenShortcut)
        act.triggered.connect(slot)
        if window_wide:
            self.window.addAction(act)
        self.actions.append(act)
        return act

    # -- moving ----------------------------------------------------------------------------
    def jump(self, borderline: bool) -> bool:
        """Select the next row (in list order, wrapping) not reviewed yet; False if there is none."""
        fp = self.window.folder_panel
        n = fp.proxy.rowCount()
        cur = fp.table.currentIndex().row() if fp.table.currentIndex().isValid() else -1
        for k in range(1, n + 1):
            row = (cur + k) % n
            e = fp.model.entries[fp.proxy.mapToSource(fp.proxy.index(row, 0)).row()]
            if e.status in (REVIEWED, CORRECTED, ERROR):
                continue
            if borderline and not (e.graded and (e.borderline or e.disagreement)):
                continue
            ix = fp.proxy.index(row, 0)
            fp.table.setCurrentIndex(ix)
            fp.table.scrollTo(ix)
            return True
        what = "borderline image" if borderline else "image"
        self.window.show_message(f"no {what} left to review in this list")
        return False

    # -- deciding --------------------------------------------------------------------------
    def _editing(self):
        ed = getattr(self.window, "editing", None)
        if ed is None:
            self.window.show_message("⚠ reviewing needs mask editing, which is not available")
            return None
        if ed.state is None:
            self.window.show_message("nothing to decide yet: the model's result is not shown")
            return None
        return ed

    def done_and_next(self) -> None:
        ed = self._editing()
        if ed is None:
            return
        st = ed.state
        if st.status() in (None, "reviewed"):
            ed.accept_model()
        else:
            ed.saver.save_now()  # the correction made here stands
        if st.status() is not None:  # refused (no annotator name): stay on the image
            self.window.folder_panel.step(1)

    def grade_key(self, key: str) -> None:
        grade = grade_keys(self.window.grade_panel.scheme).get(key)
        if grade is None:
            return
        ed = self._editing()
        if ed is None:
            return
        st = ed.state
        model_grade = ed.review.current_prediction.grade if ed.review.current_prediction else None
        if grade == model_grade and not st.painted():
            ed.accept_model()
            return
        panel = ed.panel
        reason, text = panel.reason_combo.currentText(), panel.reason_text.text().strip()
        if reason == "other" and not text:
            panel.reason_text.setFocus()
            self.window.show_message("⚠ say why in the correction panel, then press the grade key again")
            return
        ed.set_grade(grade, reason, text)

    def show_sheet(self) -> None:
        from app.gui.shortcut_sheet import ShortcutSheet

        if self.sheet is None:
            self.sheet = ShortcutSheet(self.window)
        self.sheet.refresh()
        self.sheet.show()
        self.sheet.raise_()
