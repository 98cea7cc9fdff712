"""Issue 13: a random user drives the real review window; view, panels, list and store must agree.

A Hypothesis state machine opens folders, moves between images, paints,
erases, draws lassos, fills, deletes fragments, undoes, redoes, resets to
the model, sets grades, accepts, saves, lets the autosave fire, closes and
reopens the window, and meets a byte-identical image in a second folder and
corrupt files. After every step the view, the correction panel, the grade
panel's corrected column, the folder list and both folders' stores (read
back from disk) are compared with ``stateful_reference``, a plain model of
what the user did. On failure Hypothesis prints the shortest sequence of
steps it found.

CI runs a few short examples, the same ones every time (derandomized, no
example database). ``make stateful`` runs many more, at random (docs/architecture.md,
"the stateful window test").
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from app.core.imaging import write_png
from app.core.store_format import GRADE_REASONS
from app.gui.annotator import set_name
from app.gui.edit_tools import BRUSH, DELETE, ERASE_BG, ERASER, FLOOD, NAVIGATE, POLYGON
from app.gui.editing_integration import install_editing
from app.gui.settings import Settings
from tests.gui.conftest import embryo_like
from tests.gui.stateful_checks import check_list, check_stores, check_view_and_panels
from tests.gui.stateful_reference import (
    BLASTOMERE,
    FRAGMENT,
    SCHEME,
    Facts,
    check_brush,
    check_eraser,
    check_fill,
    check_local_paint,
    expected_delete,
)
from tests.gui.window_driver import click, drag, wait_view_ready

EXAMPLES = int(os.environ.get("EMBRYOGRADE_STATEFUL_EXAMPLES", "10"))
STEPS = int(os.environ.get("EMBRYOGRADE_STATEFUL_STEPS", "50"))
LONG_RUN = "EMBRYOGRADE_STATEFUL_EXAMPLES" in os.environ
SHRINK = True  # off only to check, quickly, that a deliberately broken app is caught
SIZE = 96
# The debounce would fire whenever a step happens to take 1.5 s; saves then depend on the
# machine's speed. The test fires it on purpose instead (rule autosave_fires).
NEVER_MS = 3_600_000
# Folder A ends with a corrupt file; folder B starts with one and holds two byte-identical
# copies of A's first image (another folder's copy, and twins within B).
FOLDERS = {"A": {"e1.png": 0, "e2.png": 1, "e3.png": 2, "zz-broken.png": None},
           "B": {"a-broken.png": None, "e1-copy.png": 0, "e1-twin.png": 0, "e4.png": 3}}
GRADES = SCHEME.labels
REASONS = GRADE_REASONS

point = st.tuples(st.integers(4, SIZE - 5), st.integers(4, SIZE - 5))  # (x, y) pixel


class WindowUser(RuleBasedStateMachine):
    """The real window, one example's folders, and the reference model beside them."""

    qtbot = None  # set by the test function (pytest fixtures do not reach Hypothesis' machine)
    base: Path | None = None
    checkpoint: Path | None = None
    examples = 0

    def __init__(self):
        super().__init__()
        cls = type(self)
        cls.examples += 1
        root = cls.base.resolve() / f"example{cls.examples}"
        self.settings = Settings(root / "settings.ini")
        set_name("Hypo Thesis", self.settings.qs)
        self.folders: dict[str, Path] = {}
        self.pixels: dict[Path, np.ndarray] = {}
        self.sha: dict[Path, str] = {}
        for key, files in FOLDERS.items():
            folder = self.folders[key] = root / key
            folder.mkdir(parents=True)
            for name, seed in files.items():
                p = folder / name
                if seed is None:
                    p.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
                    continue
                first = next((q for q, s in self.pixels.items() if FOLDERS[q.parent.name][q.name] == seed), None)
                if first is not None:
                    shutil.copy(first, p)  # byte-identical
                else:
                    write_png(p, embryo_like(seed, SIZE))
                self.pixels[p] = embryo_like(seed, SIZE)
                self.sha[p] = hashlib.sha256(p.read_bytes()).hexdigest()
        self.facts: dict[tuple[str, str], Facts] = {}
        self.folder_key: str | None = None
        self.current: Path | None = None
        self.visited_broken: set[Path] = set()
        self.confirm_answer = True
        self.win = None
        self._new_window()

    # -- the window --------------------------------------------------------------------------
    def _new_window(self) -> None:
        from app.gui.main_window import MainWindow

        qtbot = self.qtbot
        w = MainWindow(settings=self.settings, device="cpu", model_path=str(self.checkpoint))
        if w.controller.predictor is None:
            with qtbot.waitSignal(w.model_choice.loaded, timeout=20_000):
                pass
        install_editing(w, confirm=lambda: self.confirm_answer)
        w.editing.saver.timer.setInterval(NEVER_MS)
        w.show()
        qtbot.waitExposed(w)
        self.win = w

    def _close_window(self) -> None:
        w, self.win = self.win, None
        w.close()
        w.queue.cancel_all()
        w.queue.wait_idle(5000)
        w.controller.io_pool.waitForDone(5000)
        w.folder_panel.model.thumbnails.pool.waitForDone(5000)
        w.deleteLater()
        self.qtbot.wait(5)

    def teardown(self):
        if self.win is not None:
            self._close_window()

    # -- where the user is -------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        return self.folders[self.folder_key]

    def _rows(self) -> list[Path]:
        return [e.path for e in self.win.folder_panel.model.entries]

    def _readable(self) -> bool:
        return self.current is not None and self.current in self.pixels

    def _here(self) -> Facts | None:
        """The reference facts of the image shown (None on a corrupt file)."""
        if not self._readable():
            return None
        return self.facts[(self.folder_key, self.sha[self.current])]

    def _saved_here(self) -> None:
        facts = self._here()
        if facts is not None:
            facts.save()

    def _arrive(self, path: Path) -> None:
        """Wait until the window shows ``path`` bound to its editor, or refuses it as unreadable."""
        self.current = path
        win, qtbot = self.win, self.qtbot
        if path not in self.pixels:
            self.visited_broken.add(path)
            qtbot.waitUntil(lambda: win.editing.panel.review_status.text().startswith(
                "⚠ cannot correct"), timeout=15_000)
            return
        ed = win.editing
        qtbot.waitUntil(lambda: ed.state is not None and ed.edit.editor is not None
                        and Path(ed.ctx.path) == path.resolve(), timeout=30_000)
        key = (self.folder_key, self.sha[path])
        if key not in self.facts:
            pred = win.controller.current_prediction
            self.facts[key] = Facts.fresh(pred.class_mask, pred.fraction_mask)

    def _settle(self) -> None:
        assert self.win.editing.saver.pool.waitForDone(20_000)
        self.qtbot.wait(5)  # the saved signal is queued to the GUI thread

    def _go(self, path: Path) -> None:
        if path.resolve() == Path(self.win.controller.current).resolve():
            return
        self._saved_here()
        self.win.folder_panel.select_path(path.resolve())
        self._arrive(path)
        p = self.win.editing.panel
        assert p.reason_text.text() == "" and p.reason_combo.currentIndex() == 0, "reason carried over"

    def _open(self, key: str) -> None:
        self._saved_here()
        self.folder_key = key
        self.visited_broken.clear()  # a listing starts with fresh rows
        assert self.win.open_folder(self.folders[key])
        rows = self._rows()
        assert sorted(p.name for p in rows) == sorted(FOLDERS[key])
        self._arrive(self._path(rows[0]))

    def _path(self, row_path: Path) -> Path:
        return self.folder / Path(row_path).name

    # -- rules: moving -----------------------------------------------------------------------
    @initialize()
    def open_first_folder(self):
        self._open("A")

    @rule(folder=st.sampled_from(sorted(FOLDERS)))
    def open_folder(self, folder):
        self._open(folder)

    @rule(to=st.sampled_from(["up", "down", 0, 1, 2, 3]))
    def move(self, to):
        """A click on a row, or a step up or down the list."""
        rows = [self._path(p) for p in self._rows()]
        if isinstance(to, int):
            self._go(rows[to])
            return
        i = rows.index(self.current) + (1 if to == "down" else -1)
        self._go(rows[min(max(i, 0), len(rows) - 1)])

    @rule()
    def close_and_reopen(self):
        self._saved_here()
        for facts in self.facts.values():
            facts.forget_history()  # the history lives in the window
        self._close_window()
        self._new_window()
        self._open(self.folder_key)

    # -- rules: editing ----------------------------------------------------------------------
    def _tool(self, tool: str, value: int | None = None, radius: int | None = None) -> None:
        tb = self.win.editing.toolbar
        tb.tool_actions[tool].trigger()
        if value is not None:
            tb.class_combo.setCurrentIndex(tb.class_combo.findData(value))
        if radius is not None:
            tb.size_slider.setValue(radius)
        if self._readable():
            wait_view_ready(self.qtbot, self.win)

    def _gesture(self, check, act) -> None:
        """Run ``act``; check its effect on the mask with ``check(before, after)``; record it."""
        facts = self._here()
        before = None if facts is None else facts.mask.copy()
        act()
        if facts is None:
            return  # a corrupt file: nothing may change anywhere (the invariants say so)
        after = self.win.editing.edit.editor.mask.copy()
        check(before, after)
        facts.edit(after)

    @rule(points=st.lists(point, min_size=2, max_size=4), radius=st.integers(1, 6),
          value=st.sampled_from([FRAGMENT, BLASTOMERE]))
    def paint(self, points, radius, value):
        self._tool(BRUSH, value, radius)
        rc = [(y, x) for x, y in points]
        self._gesture(lambda b, a: check_brush(b, a, rc, radius, value),
                      lambda: drag(self.qtbot, self.win, [(x + 0.5, y + 0.5) for x, y in points]))

    @rule(points=st.lists(point, min_size=2, max_size=3), radius=st.integers(1, 6),
          to_background=st.booleans())
    def erase(self, points, radius, to_background):
        """The eraser (E), or erase to background (Shift+E)."""
        self._tool(ERASE_BG if to_background else ERASER, None, radius)
        rc = [(y, x) for x, y in points]
        check = (lambda b, a: check_brush(b, a, rc, radius, 0)) if to_background else (
            lambda b, a: check_eraser(b, a, rc, radius))
        self._gesture(check, lambda: drag(self.qtbot, self.win, [(x + 0.5, y + 0.5) for x, y in points]))

    @rule(points=st.lists(point, min_size=3, max_size=5, unique=True),
          value=st.sampled_from([FRAGMENT, BLASTOMERE]))
    def lasso(self, points, value):
        # A press on a corner of the polygon just closed drags that corner (issue 14); pressing
        # N then P first, as a user starting a new polygon elsewhere would, makes this a lasso.
        self._tool(NAVIGATE)
        self._tool(POLYGON, value)
        rc = [(y, x) for x, y in points]
        self._gesture(lambda b, a: check_local_paint(b, a, rc, 0, value),
                      lambda: drag(self.qtbot, self.win, [(x + 0.5, y + 0.5) for x, y in points]))

    @rule(at=point, value=st.sampled_from([FRAGMENT, BLASTOMERE]), large_ok=st.booleans())
    def fill(self, at, value, large_ok):
        self._tool(FLOOD, value)
        x, y = at
        asked: list[float] = []
        # The answer to "Large fill: fill anyway?" (a modal dialog would block the test).
        self.win.editing.edit.confirm_fill = lambda share: asked.append(share) or large_ok
        self._gesture(lambda b, a: check_fill(b, a, y, x, value, asked, large_ok),
                      lambda: click(self.qtbot, self.win, x + 0.5, y + 0.5))

    @rule(pick=st.integers(0, 10**6), on_fragment=st.booleans())
    def delete_fragment(self, pick, on_fragment):
        self._tool(DELETE)
        facts = self._here()
        x, y = 4 + pick % (SIZE - 8), 4 + (pick // SIZE) % (SIZE - 8)
        if facts is not None and on_fragment:
            rows, cols = np.nonzero(facts.mask[4:-4, 4:-4] == FRAGMENT)
            if rows.size:
                y, x = int(rows[pick % rows.size]) + 4, int(cols[pick % rows.size]) + 4

        def check(before, after):
            np.testing.assert_array_equal(after, expected_delete(before, y, x))

        self._gesture(check, lambda: click(self.qtbot, self.win, x + 0.5, y + 0.5))

    @rule()
    def undo(self):
        self.win.editing.toolbar.undo_action.trigger()
        if self._here() is not None:
            self._here().do_undo()

    @rule()
    def redo(self):
        self.win.editing.toolbar.redo_action.trigger()
        if self._here() is not None:
            self._here().do_redo()

    @rule()
    def reset_to_model(self):
        self.win.editing.toolbar.reset_action.trigger()
        facts = self._here()
        if facts is not None:
            facts.edit(facts.model)

    # -- rules: decisions and saving -----------------------------------------------------------
    @rule(grade=st.sampled_from(GRADES), reason=st.sampled_from(REASONS),
          text=st.sampled_from(["", "  ", "blurred frame"]))
    def set_grade(self, grade, reason, text):
        p = self.win.editing.panel
        p.grade_combo.setCurrentIndex(p.grade_combo.findData(grade))
        p.reason_combo.setCurrentText(reason)
        p.reason_text.setText(text)
        p.grade_button.click()  # disabled (no effect) on a corrupt file or 'other' without a why
        facts = self._here()
        if facts is not None and (reason != "other" or text.strip()):
            facts.set_grade(grade, reason, text)

    @rule(confirm=st.booleans())
    def accept(self, confirm):
        self.confirm_answer = confirm
        self.win.editing.panel.accept_button.click()
        facts = self._here()
        if facts is not None and (confirm or not facts.painted()):
            facts.accept()

    @rule(how=st.sampled_from(["Ctrl+S", "autosave"]))
    def save(self, how):
        saver = self.win.editing.saver
        if how == "Ctrl+S":
            saver.save_action.trigger()
        elif saver.timer.isActive():
            saver.timer.start(1)
            self.qtbot.waitUntil(lambda: not saver.timer.isActive(), timeout=5000)
        saver.timer.setInterval(NEVER_MS)
        # Every change since the last save point started the autosave timer: both save it.
        self._saved_here()

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def window_agrees_with_the_reference(self):
        self._settle()
        check_view_and_panels(self)
        check_list(self)
        check_stores(self)


def test_random_user_sessions_keep_view_panels_list_and_store_in_agreement(qtbot, tmp_path, tiny_checkpoint):
    WindowUser.qtbot, WindowUser.base, WindowUser.checkpoint = qtbot, tmp_path, tiny_checkpoint
    WindowUser.examples = 0
    run_state_machine_as_test(WindowUser, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        derandomize=not LONG_RUN, print_blob=True,
        # No 'explain' phase: it prints pages of line numbers under the failing steps.
        phases=[Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if SHRINK else []),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]))


pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
