"""The Qt-free mask editor: gestures, one undo step per gesture, live counts, dirty boxes."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import brush
from app.core.brush import BBox
from app.core.label_edit import BLASTOMERE, FRAGMENT, EditorManager, LabelEditor
from app.core.undo import History
from model.grading import fragment_fraction


def _blank(h=120, w=160):
    m = np.zeros((h, w), np.uint8)
    m[20:100, 30:130] = BLASTOMERE
    return m


def _assert_counts_match(ed: LabelEditor):
    s = ed.stats
    assert s.blastomere == np.count_nonzero(ed.mask == BLASTOMERE)
    assert s.fragment == np.count_nonzero(ed.mask == FRAGMENT)
    frac = fragment_fraction(ed.mask)
    assert s.fraction == pytest.approx(frac, nan_ok=True)


def test_segment_disk_matches_brute_force_distance():
    shape = (50, 60)
    p0, p1, r = (10.3, 7.8), (30.0, 44.5), 4.0
    box, hit = brush.segment_disk(shape, p0, p1, r)
    full = np.zeros(shape, bool)
    full[box.slices] = hit
    yy, xx = np.mgrid[0:50, 0:60].astype(float)
    a, b = np.array(p0), np.array(p1)
    d = b - a
    t = np.clip(((yy - a[0]) * d[0] + (xx - a[1]) * d[1]) / (d @ d), 0, 1)
    dist2 = (yy - a[0] - t * d[0]) ** 2 + (xx - a[1] - t * d[1]) ** 2
    assert np.array_equal(full, dist2 <= r * r + 0.25)


def test_segment_disk_clips_to_image_and_radius_zero_paints_one_pixel():
    box, hit = brush.segment_disk((20, 20), (0, 0), (0, 0), 5)
    assert (box.y0, box.x0) == (0, 0) and hit[0, 0]
    box, hit = brush.segment_disk((20, 20), (5, 5), (5, 5), 0)
    assert hit.sum() == 1 and box == BBox(5, 6, 5, 6)
    assert brush.segment_disk((20, 20), (-50, -50), (-40, -40), 3) is None


def test_stroke_is_one_undo_step_and_undo_redo_restore_exactly():
    m = _blank()
    ed = LabelEditor(m)
    orig = ed.mask.copy()
    ed.begin_stroke()
    for a, b in [((30, 40), (35, 60)), ((35, 60), (50, 70)), ((50, 70), (30, 40))]:
        assert ed.paint_segment(a, b, 5, FRAGMENT) is not None
    delta = ed.end_stroke()
    assert len(ed.history) == 1 and delta.kind == "brush"
    painted = ed.mask.copy()
    assert not np.array_equal(painted, orig)
    _assert_counts_match(ed)
    box = ed.undo()
    assert np.array_equal(ed.mask, orig) and box == delta.box
    _assert_counts_match(ed)
    ed.redo()
    assert np.array_equal(ed.mask, painted)
    _assert_counts_match(ed)
    assert not np.array_equal(m, ed.mask) or np.array_equal(m, orig)  # caller's array untouched
    assert np.array_equal(m, orig)


def test_dirty_box_covers_exactly_the_changed_pixels():
    ed = LabelEditor(_blank())
    seen = []
    ed.add_listener(seen.append)
    before = ed.mask.copy()
    box = ed.paint_segment((50, 50), (52, 80), 3, FRAGMENT)
    assert seen == [box]
    diff = np.argwhere(before != ed.mask)
    assert diff[:, 0].min() >= box.y0 and diff[:, 0].max() < box.y1
    assert diff[:, 1].min() >= box.x0 and diff[:, 1].max() < box.x1
    # The undo step's box is shrunk to the changed pixels.
    d = ed.history._undo[-1]
    assert (d.box.y0, d.box.y1 - 1) == (diff[:, 0].min(), diff[:, 0].max())


def test_random_edits_keep_counts_and_undo_all_round_trips():
    rng = np.random.default_rng(0)
    ed = LabelEditor(_blank(), history=History(max_steps=500))
    snaps = [ed.mask.copy()]
    for _ in range(200):
        kind = rng.integers(4)
        y, x = rng.uniform(0, 120), rng.uniform(0, 160)
        if kind == 0:
            ed.stroke([(y, x), (y + rng.uniform(-20, 20), x + rng.uniform(-20, 20))],
                      rng.uniform(0, 8), int(rng.integers(3)))
        elif kind == 1:
            ed.fill_polygon(rng.uniform(0, 120, (5, 2)), int(rng.integers(3)))
        elif kind == 2:
            ed.flood_fill(int(y), int(x), int(rng.integers(3)))
        else:
            ed.delete_component(int(y), int(x))
        if not np.array_equal(ed.mask, snaps[-1]):
            snaps.append(ed.mask.copy())
    _assert_counts_match(ed)
    assert len(ed.history) == len(snaps) - 1 >= 100
    for snap in reversed(snaps[:-1]):
        ed.undo()
        assert np.array_equal(ed.mask, snap)
    assert not ed.can_undo
    _assert_counts_match(ed)


def test_new_edit_clears_redo():
    ed = LabelEditor(_blank())
    ed.stroke([(30, 40)], 3, FRAGMENT)
    ed.undo()
    assert ed.can_redo
    ed.stroke([(60, 60)], 3, FRAGMENT)
    assert not ed.can_redo


def test_history_is_bounded_by_steps_and_bytes():
    ed = LabelEditor(_blank(), history=History(max_steps=100))
    for i in range(150):
        ed.stroke([(30 + (i % 60), 40 + (i // 60) * 20)], 1, FRAGMENT if i % 2 else BLASTOMERE)
    assert len(ed.history) == 100
    h = History(max_steps=1000, max_bytes=4000)
    ed = LabelEditor(_blank(), history=h)
    for i in range(50):
        ed.stroke([(30 + i, 40), (30 + i, 120)], 2, FRAGMENT if i % 2 else 0)
    assert h.nbytes <= 4000 and 1 <= len(h) < 50


def test_polygon_fill_only_inside_its_box():
    ed = LabelEditor(_blank())
    box = ed.fill_polygon([(30, 40), (30, 80), (60, 80), (60, 40)], FRAGMENT)
    assert box is not None and ed.mask[45, 60] == FRAGMENT and ed.mask[70, 60] == BLASTOMERE
    assert ed.history.undo_kind == "polygon"
    assert ed.fill_polygon([(1, 1), (2, 2)], FRAGMENT) is None


def test_delete_fragment_removes_only_its_component():
    m = _blank(400, 400)
    m[50:60, 50:60] = FRAGMENT
    m[59:70, 59:62] = FRAGMENT  # touches the first one: same fragment
    m[200:210, 200:210] = FRAGMENT  # another fragment
    ed = LabelEditor(m)
    assert ed.delete_component(40, 40) is None  # blastomere: not a fragment
    box = ed.delete_component(55, 55)
    assert box == BBox(50, 70, 50, 62)
    assert np.count_nonzero(ed.mask == FRAGMENT) == 100
    assert ed.mask[55, 55] == 0
    _assert_counts_match(ed)


def test_component_grows_its_window_until_closed():
    m = np.zeros((600, 700), np.uint8)
    m[10:590, 300:305] = FRAGMENT  # a long thin region far beyond the first window
    box, hit = brush.component(m, 300, 302, start_half=8)
    assert box == BBox(10, 590, 300, 305) and hit.all()
    box, hit = brush.component(m, 5, 5)  # the background wraps around the whole image
    assert box == BBox(0, 600, 0, 700) and hit.sum() == 600 * 700 - 580 * 5


def test_flood_fill_recolours_region():
    ed = LabelEditor(_blank())
    ed.flood_fill(50, 50, FRAGMENT)
    assert ed.stats.blastomere == 0 and ed.stats.fraction == 1.0
    assert ed.stats.grade == "3"
    ed.undo()
    assert ed.stats.fraction == 0.0 and ed.stats.grade == "1"


def test_reset_to_model_mask_is_undoable():
    model = _blank()
    model[40:50, 40:50] = FRAGMENT
    ed = LabelEditor(_blank(), model_mask=model)
    ed.stroke([(80, 100)], 6, FRAGMENT)
    edited = ed.mask.copy()
    ed.reset_to()
    assert np.array_equal(ed.mask, model) and not ed.differs_from_model()
    _assert_counts_match(ed)
    ed.undo()
    assert np.array_equal(ed.mask, edited)
    assert LabelEditor(_blank()).reset_to(_blank()) is None  # no change, no step
    with pytest.raises(ValueError):
        LabelEditor(_blank()).reset_to()


def test_abort_stroke_restores_and_leaves_no_step():
    ed = LabelEditor(_blank())
    orig = ed.mask.copy()
    ed.begin_stroke()
    ed.paint_segment((30, 40), (60, 90), 4, FRAGMENT)
    ed.abort_stroke()
    assert np.array_equal(ed.mask, orig) and not ed.can_undo and not ed.can_redo
    _assert_counts_match(ed)


def test_eraser_and_bad_class():
    ed = LabelEditor(_blank())
    ed.stroke([(50, 50), (50, 90)], 5, 0, kind="eraser")
    assert ed.mask[50, 70] == 0 and ed.history.undo_kind == "eraser"
    with pytest.raises(ValueError):
        ed.paint_segment((1, 1), (2, 2), 1, 7)


def test_version_tracks_unsaved_changes():
    ed = LabelEditor(_blank())
    assert not ed.dirty
    ed.stroke([(50, 50)], 3, FRAGMENT)
    assert ed.dirty
    ed.mark_saved()
    assert not ed.dirty
    ed.undo()
    assert ed.dirty


def test_manager_keeps_history_per_image_and_bounds_memory():
    mgr = EditorManager(max_bytes=10**9)
    a = mgr.open("sha-a", _blank())
    a.stroke([(50, 50)], 3, FRAGMENT)
    b = mgr.open("sha-b", _blank())
    b.stroke([(60, 60)], 3, FRAGMENT)
    again = mgr.open("sha-a", _blank())
    assert again is a and again.can_undo
    # Budget: saved editors are evicted oldest first, unsaved ones never.
    mgr = EditorManager(max_bytes=3 * 120 * 160 + 100)
    first = mgr.open("1", _blank())
    first.stroke([(50, 50)], 3, FRAGMENT)  # unsaved
    mgr.open("2", _blank())
    mgr.open("3", _blank())
    mgr.open("4", _blank())
    assert "1" in mgr and "4" in mgr and "2" not in mgr
    assert mgr.unsaved() == ["1"]
