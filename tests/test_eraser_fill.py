"""The eraser gives back what lies under a fragment; a fill stops at the membranes in the image."""

from __future__ import annotations

import cv2
import numpy as np

from app.core.label_edit import BACKGROUND, BLASTOMERE, FRAGMENT, LabelEditor


def _cell_with_fragments() -> np.ndarray:
    m = np.zeros((80, 80), np.uint8)
    cv2.circle(m, (40, 40), 25, BLASTOMERE, -1)
    cv2.circle(m, (40, 40), 5, FRAGMENT, -1)  # inside the cell
    cv2.circle(m, (72, 8), 4, FRAGMENT, -1)  # outside it
    return m


def test_erasing_a_fragment_inside_a_cell_gives_back_blastomere():
    ed = LabelEditor(_cell_with_fragments())
    ed.begin_stroke("eraser")
    ed.erase_segment((40, 30), (40, 50), 7)  # over the fragment and some of the cell
    ed.end_stroke()
    assert (ed.mask[33:48, 33:48] != FRAGMENT).all()
    assert ed.mask[40, 40] == BLASTOMERE  # no hole where the fragment was
    assert ed.mask[40, 30] == BACKGROUND  # the cell's own pixels under the eraser: erased
    assert ed.stats.fragment == np.count_nonzero(ed.mask == FRAGMENT)


def test_a_stroke_begun_on_a_fragment_keeps_the_cell_whole():
    before = _cell_with_fragments()
    ed = LabelEditor(before)
    ed.begin_stroke("eraser")
    ed.erase_segment((40, 40), (40, 52), 7, only_fragment=True)
    ed.end_stroke()
    was_cell = before == BLASTOMERE
    assert (ed.mask[was_cell] == BLASTOMERE).all()
    assert ed.stats.fragment == np.count_nonzero(before == FRAGMENT) - np.count_nonzero(
        (before == FRAGMENT) & (ed.mask != FRAGMENT))
    assert ed.mask[40, 40] == BLASTOMERE


def test_erasing_a_fragment_outside_the_cells_gives_background_and_undo_restores():
    before = _cell_with_fragments()
    ed = LabelEditor(before)
    ed.begin_stroke("eraser")
    ed.erase_segment((8, 72), (8, 72), 6)
    ed.end_stroke()
    assert (ed.mask[2:14, 66:78] == BACKGROUND).all()
    ed.undo()
    np.testing.assert_array_equal(ed.mask, before)


def test_given_back_blastomere_does_not_creep_outwards():
    # A fragment on the cell's rim, half inside: erased in one long stroke from inside outwards,
    # the part outside the cell must become background, though it touches pixels just given back.
    m = np.zeros((60, 90), np.uint8)
    m[:, :40] = BLASTOMERE
    m[20:40, 30:60] = FRAGMENT
    ed = LabelEditor(m)
    ed.begin_stroke("eraser")
    for c in range(30, 60, 2):
        ed.erase_segment((30, c), (30, c + 2), 12, only_fragment=True)
    ed.end_stroke()
    assert (ed.mask[20:40, 30:40] == BLASTOMERE).all()
    assert (ed.mask[20:40, 41:60] == BACKGROUND).all()


def _two_touching_cells():
    img = np.full((96, 96), 200, np.uint8)
    for cx in (34, 62):
        cv2.circle(img, (cx, 48), 14, 120, -1)
    for cx in (34, 62):
        cv2.circle(img, (cx, 48), 14, 50, 2)  # the membranes
    mask = np.zeros((96, 96), np.uint8)
    cv2.circle(mask, (48, 48), 30, BLASTOMERE, -1)  # one blob of blastomere over both cells
    return img, mask


def test_fill_stops_at_the_membranes_in_the_image():
    img, mask = _two_touching_cells()
    ed = LabelEditor(mask)
    ed.flood_fill(48, 34, FRAGMENT, image=img)
    assert ed.mask[48, 34] == FRAGMENT and ed.mask[40, 30] == FRAGMENT
    assert ed.mask[48, 62] == BLASTOMERE  # the touching cell is not recoloured
    assert ed.mask[22, 48] == BLASTOMERE  # nor the blastomere outside the cells
    # without the image the whole connected region changes, as before
    ed2 = LabelEditor(mask)
    ed2.flood_fill(48, 34, FRAGMENT)
    assert ed2.stats.blastomere == 0


def test_fill_without_visible_membranes_fills_the_whole_region():
    rng = np.random.default_rng(0)
    img = (128 + rng.normal(0, 3, (96, 96))).astype(np.uint8)  # flat, faint noise
    _, mask = _two_touching_cells()
    ed = LabelEditor(mask)
    ed.flood_fill(48, 48, FRAGMENT, image=img)
    assert ed.stats.blastomere == 0
