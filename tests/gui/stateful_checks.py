"""What the stateful window test checks after every step, given the machine (``WindowUser``).

Kept apart from the rules so each file reads in one sitting; ``self`` is the
machine: its window, its reference facts and where the user is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.gui.stateful_reference import LISTED, fraction, pct_text
from tests.gui.window_driver import stored


def check_view_and_panels(self) -> None:
    """The view shows the image the user is on, its mask; the panels say what the facts amount to."""
    win, ed = self.win, self.win.editing
    assert Path(win.controller.current).resolve() == self.current.resolve()
    assert Path(win.folder_panel.current_path()).resolve() == self.current.resolve()
    facts = self._here()
    if facts is None:  # a corrupt file: an empty, disabled editor that says why
        assert win.view.image is None and win.view.mask is None
        assert ed.edit.editor is None and ed.state is None
        assert not ed.panel.accept_button.isEnabled() and not ed.panel.grade_button.isEnabled()
        assert self.current.name in ed.panel.review_status.text()
        return
    np.testing.assert_array_equal(win.view.image, self.pixels[self.current])
    assert win.view.mask is ed.edit.editor.mask
    np.testing.assert_array_equal(ed.edit.editor.model_mask, facts.model)
    np.testing.assert_array_equal(win.view.mask, facts.mask, err_msg="the view's mask")
    status = facts.status()
    text = ed.panel.review_status.text()
    assert text.startswith(f"status: {LISTED.get(status, 'not reviewed')}"), text
    ov = facts.override
    assert ("set by hand" in text) == (ov is not None), text
    if ov is not None:
        assert f"grade {ov.grade} set by hand ({ov.reason}" in text, text
    final = facts.final_grade()
    assert ed.panel.corr_grade.text() == (final or "—") + (" (set)" if ov else "")
    assert ed.panel.corr_pct.text() == pct_text(fraction(facts.mask))
    if facts.painted() or ov is not None:
        gp = win.grade_panel.corrected_labels
        assert gp["grade"].text() == (final or "—")
        assert gp["fragment_pct_mask"].text() == ed.panel.corr_pct.text(), "the two panels differ"

def check_list(self) -> None:
    """Each row says what the store holds for its image (status, final grade and %)."""
    saved_as = {sha: Path(rev.path).name for sha, rev in stored(self.folder).items()}
    for e in self.win.folder_panel.model.entries:
        path = self._path(e.path)
        if path not in self.pixels:
            assert e.status in (("error",) if path in self.visited_broken else ("error", "not graded"))
            continue
        facts = self.facts.get((self.folder_key, self.sha[path]))
        disk = None if facts is None or facts.disk is None else facts.disk["status"]
        want = LISTED.get(disk)
        if want is not None and e.sha256 is None and saved_as.get(self.sha[path]) != path.name:
            # A copy under another name, not hashed yet: the list cannot know it is this image
            # (unless it was saved under this name earlier); its review comes with its hash.
            assert e.status in (want, "not graded"), f"{path.name}: list says {e.status}, store {disk}"
            continue
        if want is not None:
            assert e.status == want, f"{path.name}: list says {e.status}, store {disk}"
            if disk != "reviewed" or e.graded:  # a reviewed row shows the model's grade once known
                assert e.final_grade == facts.disk["grade"], f"{path.name}: list grade {e.final_grade}"
            if disk == "corrected":
                assert abs(e.final_pct - 100 * fraction(facts.disk["mask"])) < 1e-6, path.name
        else:
            assert e.status in ("graded by model", "not graded"), f"{path.name}: {e.status}"


def check_stores(self) -> None:
    """Both folders' stores, read back from disk, hold exactly the revisions the user made there."""
    for key, folder in self.folders.items():
        revs = stored(folder)
        want = {sha: f.disk for (k, sha), f in self.facts.items() if k == key and f.disk is not None}
        assert set(revs) == set(want), f"folder {key}: store has {sorted(revs)}, expected {sorted(want)}"
        for sha, exp in want.items():
            rev = revs[sha]
            where = f"folder {key}, {sha[:8]}"
            # An image's corrections belong to its folder's store, under its name there.
            assert not Path(rev.path).is_absolute() and (folder / rev.path).is_file(), \
                f"{where}: revision path {rev.path}"
            assert rev.status == exp["status"], f"{where}: {rev.status} != {exp['status']}"
            assert rev.grade == exp["grade"], f"{where}: grade {rev.grade} != {exp['grade']}"
            assert rev.grade_reason == exp["grade_reason"], where
            if exp["mask"] is None:
                assert rev.mask is None, where
            else:
                np.testing.assert_array_equal(rev.mask, exp["mask"], err_msg=where)
            if exp["status"] != "withdrawn":
                assert rev.reason_text == exp["reason_text"], where
                assert bool(rev.extra.get("accepted")) == exp["accepted"], where
            if exp["status"] == "corrected":
                assert rev.extra.get("mask_grade") == exp["mask_grade"], where
