"""Editing end to end with real mouse events: paint, undo, redo, save off-thread, reopen, see it."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.core.corrections import ImageContext
from app.core.image_state import ImageState
from app.core.imaging import sha256_file, write_png
from app.core.label_edit import BLASTOMERE, FRAGMENT, EditorManager
from app.core.store import AnnotationStore
from app.gui.annotator import Annotator, stored_name
from app.gui.autosave import AutoSaver
from app.gui.correction_panel import CorrectionPanel
from app.gui.edit_toolbar import EditToolbar
from app.gui.edit_tools import BRUSH, DELETE, ERASER, FLOOD, NAVIGATE, POLYGON, EditController
from app.gui.image_view import ImageView
from tests.gui.conftest import embryo_like

SIZE = 96


def _model_mask() -> np.ndarray:
    m = np.zeros((SIZE, SIZE), np.uint8)
    yy, xx = np.ogrid[:SIZE, :SIZE]
    m[(yy - 48) ** 2 + (xx - 48) ** 2 < 32**2] = BLASTOMERE
    m[10:14, 10:14] = FRAGMENT
    return m


class Rig:
    """An image view with the editing controller, toolbar and saver, as the window wires them."""

    def __init__(self, qtbot, folder, delay_ms=60_000):
        self.path = folder / "embryo.png"
        self.image = embryo_like(1, SIZE)
        write_png(self.path, self.image)
        self.sha = sha256_file(self.path)
        self.model = _model_mask()
        self.view = ImageView()
        self.view.resize(400, 400)
        qtbot.addWidget(self.view)
        self.view.set_image(self.image)
        self.view.set_prediction_overlays(self.model.copy(), {})
        self.view.show()
        qtbot.waitExposed(self.view)
        # The ViewBox applies its range lazily; map coordinates only once it has.
        qtbot.waitUntil(lambda: 0 < self.widget_pos(SIZE / 2, SIZE / 2).x() < 400, timeout=5000)
        self.ctl = EditController(self.view)
        self.bar = EditToolbar(self.ctl)
        self.panel = CorrectionPanel()
        qtbot.addWidget(self.bar)
        qtbot.addWidget(self.panel)
        self.manager = EditorManager()
        self.editor = self.manager.open(self.sha, self.model.copy(), self.model)
        self.ctl.set_editor(self.editor)
        self.store = AnnotationStore.for_folder(folder)
        self.saver = AutoSaver(self.store, lambda: "A.B.", delay_ms=delay_ms)
        self.saver.watch(self.ctl)
        self.ctx = ImageContext(self.sha, str(self.path), self.model, "tiny-v1", 0.0, "istanbul")
        self.state = ImageState(folder, self.ctx, self.editor)
        self.saver.set_current(self.state)
        self.ctl.stats_changed.connect(self.panel.set_stats)

    def widget_pos(self, x: float, y: float) -> QPoint:
        """Image coordinates (column, row) -> viewport pixel."""
        scene = self.view.image_item.mapToScene(QPointF(x, y))
        return self.view.graphics.mapFromScene(scene)

    def drag(self, qtbot, points):
        vp = self.view.graphics.viewport()
        first = self.widget_pos(*points[0])
        qtbot.mouseMove(vp, first)
        qtbot.wait(12)
        qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=first)
        for p in points[1:]:
            # pyqtgraph drops moves closer than 1/mouseRateLimit (10 ms) apart; a hand is slower.
            qtbot.wait(12)
            # QTest's mouseMove does not reliably say the button is held; say it explicitly.
            pos = QPointF(self.widget_pos(*p))
            QApplication.sendEvent(vp, QMouseEvent(
                QEvent.Type.MouseMove, pos, QPointF(vp.mapToGlobal(pos)), Qt.MouseButton.NoButton,
                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
        qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=self.widget_pos(*points[-1]))

    def click(self, qtbot, x, y, double=False):
        vp = self.view.graphics.viewport()
        pos = self.widget_pos(x, y)
        qtbot.mouseMove(vp, pos)
        if double:
            qtbot.mouseDClick(vp, Qt.MouseButton.LeftButton, pos=pos)
        else:
            qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=pos)

    def close(self):
        self.saver.flush()
        self.store.close()


@pytest.fixture
def rig(qtbot, tmp_path):
    r = Rig(qtbot, _folder(tmp_path))
    yield r
    r.saver.pool.waitForDone(10_000)
    if not r.store._closed:
        r.store.close()


def _folder(tmp_path):
    f = tmp_path / "imgs"
    f.mkdir()
    return f


def test_brush_stroke_with_real_mouse_undo_redo_save_reopen(qtbot, rig, tmp_path):
    rig.ctl.set_tool(BRUSH)
    rig.ctl.set_radius(3)
    rig.drag(qtbot, [(30.5, 40.5), (40.5, 40.5), (50.5, 42.5), (60.5, 44.5)])
    ed = rig.editor
    painted = ed.mask.copy()
    assert painted[40, 30] == FRAGMENT and painted[44, 60] == FRAGMENT and painted[42, 50] == FRAGMENT
    assert painted[70, 45] == BLASTOMERE  # far from the stroke: untouched
    assert len(ed.history) == 1  # one stroke, one undo step
    assert rig.view.mask is ed.mask  # the view shows the live array...
    np.testing.assert_array_equal(rig.view.mask_item.image[42, 50], rig.view.mask_rgba()[42, 50])
    assert tuple(rig.view.mask_rgba()[42, 50, :3]) == (255, 80, 40)  # ...recoloured in place
    assert rig.panel.corr_pct.text() != "—" and rig.bar.undo_action.isEnabled()

    rig.bar.undo_action.trigger()
    np.testing.assert_array_equal(ed.mask, rig.model)
    assert tuple(rig.view.mask_rgba()[42, 50, :3]) == (40, 160, 255)
    rig.bar.redo_action.trigger()
    np.testing.assert_array_equal(ed.mask, painted)

    with qtbot.waitSignal(rig.saver.saved, timeout=10_000) as blocker:
        rig.saver.save_action.trigger()  # Ctrl+S
    sha, _seq, status = blocker.args
    assert sha == rig.sha and status == "corrected" and not ed.dirty
    rig.close()

    # Reopen the folder's store: the corrected mask and its provenance are there.
    store = AnnotationStore.for_folder(rig.path.parent, readonly=True)
    rev = store.current(rig.sha)
    assert rev.status == "corrected" and rev.annotator == "A.B."
    np.testing.assert_array_equal(rev.mask, painted)
    np.testing.assert_array_equal(rev.model_mask, rig.model)
    assert rev.model_version == "tiny-v1" and rev.grade == ed.stats.grade
    assert rev.fragment_fraction == pytest.approx(ed.stats.fraction)
    assert rev.extra["changed_pixels"] == int(np.count_nonzero(painted != rig.model))
    store.close()


def test_autosave_is_debounced_and_off_the_gui_thread(qtbot, tmp_path):
    rig = Rig(qtbot, _folder(tmp_path), delay_ms=100)
    try:
        rig.ctl.set_tool(BRUSH)
        saves = []
        rig.saver.saved.connect(lambda *a: saves.append(a))
        for y in (30.5, 50.5, 60.5):  # a burst of three strokes...
            rig.drag(qtbot, [(40.5, y), (55.5, y)])
        assert not saves and rig.saver.timer.isActive()
        with qtbot.waitSignal(rig.saver.saved, timeout=10_000):
            pass
        qtbot.wait(250)
        assert len(saves) == 1  # ...is one save
        # Painting and undoing back to the stored state records nothing new.
        rig.drag(qtbot, [(45.5, 70.5), (50.5, 70.5)])
        rig.ctl.undo()
        qtbot.wait(400)
        assert len(saves) == 1 and not rig.editor.dirty
        assert rig.store.revision_count(rig.sha) == 1
    finally:
        rig.close()


def test_eraser_flood_delete_polygon_tools(qtbot, rig):
    ed = rig.editor
    rig.ctl.set_tool(DELETE)
    rig.click(qtbot, 12.5, 12.5)  # the model's fragment at rows/cols 10..13
    assert not (ed.mask[10:14, 10:14] == FRAGMENT).any()
    rig.ctl.set_tool(ERASER)
    rig.ctl.set_radius(2)
    rig.drag(qtbot, [(48.5, 48.5), (52.5, 48.5)])
    assert ed.mask[48, 50] == 0
    rig.ctl.set_tool(FLOOD)
    rig.ctl.set_value(FRAGMENT)
    rig.ctl.confirm_fill = lambda share: True  # the whole cell: more than a quarter of the embryo
    rig.click(qtbot, 30.5, 48.5)
    # The fill now stops at edges in the image (embryo_like has dark blobs): check the click's region.
    assert ed.mask[48, 30] == FRAGMENT
    rig.ctl.undo()
    rig.ctl.set_tool(POLYGON)
    for x, y in ((30.5, 30.5), (40.5, 30.5), (40.5, 40.5)):
        rig.click(qtbot, x, y)
    rig.ctl.finish_polygon()  # Enter
    assert ed.mask[33, 37] == FRAGMENT and ed.history.undo_kind == "polygon"
    # A lasso drag closes itself on release.
    rig.drag(qtbot, [(55.5, 55.5), (65.5, 55.5), (65.5, 65.5), (55.5, 65.5)])
    assert ed.mask[60, 60] == FRAGMENT
    assert len(ed.history) == 4  # delete, erase, polygon, lasso (the fill was undone)


def test_navigate_gives_the_left_button_back_to_panning(qtbot, rig):
    rig.ctl.set_tool(BRUSH)
    rig.ctl.set_tool(NAVIGATE)
    assert rig.view.tool is None
    rig.drag(qtbot, [(30.5, 40.5), (60.5, 40.5)])
    np.testing.assert_array_equal(rig.editor.mask, rig.model)


def test_brush_cursor_and_size_keys(qtbot, rig):
    rig.ctl.set_tool(BRUSH)
    rig.ctl.set_radius(8)
    rig.ctl.hover(20.0, 30.0)
    assert rig.ctl._cursor.isVisible()
    rect = rig.ctl._cursor.rect()
    assert rect.center() == QPointF(20.0, 30.0) and rect.width() == pytest.approx(17.0)
    rig.bar.bigger_action.trigger()
    assert rig.ctl.radius == 10 and rig.bar.size_slider.value() == 10
    rig.bar.smaller_action.trigger()
    assert rig.ctl.radius == 8
    rig.ctl.set_tool(FLOOD)
    assert not rig.ctl._cursor.isVisible()


def test_history_is_kept_per_image(qtbot, rig):
    rig.ctl.set_tool(BRUSH)
    rig.drag(qtbot, [(30.5, 40.5), (40.5, 40.5)])
    other = rig.manager.open("b" * 64, rig.model.copy(), rig.model)
    rig.ctl.set_editor(other)
    assert not rig.bar.undo_action.isEnabled()
    back = rig.manager.open(rig.sha, rig.model.copy(), rig.model)
    rig.ctl.set_editor(back)
    assert back is rig.editor and rig.bar.undo_action.isEnabled()
    assert rig.view.mask is back.mask


def test_reset_accept_and_grade_only(qtbot, rig):
    rig.ctl.set_tool(BRUSH)
    rig.drag(qtbot, [(30.5, 40.5), (40.5, 40.5)])
    rig.bar.reset_action.trigger()
    np.testing.assert_array_equal(rig.editor.mask, rig.model)
    assert rig.editor.can_undo  # the reset itself is undoable
    with qtbot.waitSignal(rig.saver.saved, timeout=10_000) as b:
        rig.saver.accept_model()
    assert b.args[2] == "reviewed"
    rig.panel.set_model(0.0, "1")
    rig.panel.reason_combo.setCurrentText("other")
    assert not rig.panel.grade_button.isEnabled()  # 'other' needs a reason in words
    rig.panel.reason_text.setText("focus lost on fragments")
    rig.panel.grade_combo.setCurrentIndex(rig.panel.grade_combo.findData("2"))
    rig.panel.grade_requested.connect(rig.saver.set_grade)
    with qtbot.waitSignal(rig.saver.saved, timeout=10_000) as b:
        rig.panel.grade_button.click()
    assert b.args[2] == "grade-only"
    rev = rig.store.current(rig.sha)
    assert (rev.grade, rev.grade_reason, rev.reason_text) == ("2", "other", "focus lost on fragments")
    assert [r.status for r in rig.store.history(rig.sha, masks=False)] == ["reviewed", "grade-only"]


def test_save_without_store_or_name_is_refused_visibly(qtbot, rig):
    rig.saver.annotator = lambda: None
    rig.ctl.set_tool(BRUSH)
    rig.drag(qtbot, [(30.5, 40.5), (40.5, 40.5)])
    with qtbot.waitSignal(rig.saver.failed, timeout=2000):
        rig.saver.save_now()
    assert rig.editor.dirty and "name" in rig.saver.last_error


def test_annotator_is_asked_once_and_remembered(tmp_path):
    qs = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    asked = []
    ann = Annotator(settings=qs, prompt=lambda parent, cur: asked.append(cur) or "E. Mbryo")
    assert ann() == "E. Mbryo" and ann() == "E. Mbryo"
    assert len(asked) == 1
    assert stored_name(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)) == "E. Mbryo"


def test_esc_cancels_a_polygon_even_when_the_window_binds_esc(qtbot, rig):
    from PySide6.QtGui import QAction, QKeySequence
    from PySide6.QtWidgets import QMainWindow

    win = QMainWindow()
    win.setCentralWidget(rig.view)
    fired = []
    esc = QAction("Cancel grading", win, shortcut=QKeySequence("Esc"))
    esc.triggered.connect(lambda: fired.append(1))
    win.addAction(esc)
    win.show()
    win.activateWindow()
    qtbot.waitActive(win)  # window shortcuts fire only in the active window
    rig.view.graphics.setFocus()
    rig.ctl.set_tool(POLYGON)
    rig.ctl.press(30.0, 30.0)
    rig.ctl.press(40.0, 30.0)
    assert rig.ctl.busy
    qtbot.keyClick(rig.view.graphics, Qt.Key.Key_Escape)
    assert not rig.ctl.busy and not fired  # the gesture took Esc
    for x, y in ((30.0, 30.0), (40.0, 30.0), (40.0, 40.0)):
        rig.ctl.press(x, y)
    qtbot.keyClick(rig.view.graphics, Qt.Key.Key_Return)
    assert rig.editor.history.undo_kind == "polygon"
    win.takeCentralWidget()  # the rig's view is torn down by qtbot, not with the window
    win.close()
    win.deleteLater()
