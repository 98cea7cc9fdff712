"""What the folder list says of a reviewed image: status, final fraction and grade, and who. Qt-free.

The list shows the final values, not the model's: for a painted mask its
fraction and grade, for a grade set by hand that grade, with the name of
whoever saved it. The same summary comes from a stored revision (listing a
folder) and from the live ``ImageState`` (after a save), so the list reads
what the store and the CSV say (ADR 0006). Summaries are kept by image hash
(``ReviewIndex``): byte-identical copies in a folder share one store record.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.image_state import SHOWN_STATUS, ImageState


@dataclass(frozen=True)
class ReviewSummary:
    status: str | None  # "reviewed" / "corrected" as the list and CSV say it; None: no review
    fraction: float | None = None  # the painted mask's fraction; None: the model's stands
    grade: str | None = None  # the final grade when it is not the model's (painted or set by hand)
    by: str = ""  # who saved it


def of_revision(rev) -> ReviewSummary | None:
    """The summary of the store's current revision (None: nothing stored, or withdrawn)."""
    status = SHOWN_STATUS.get(rev.status) if rev is not None else None
    if status is None:
        return None
    painted = rev.status == "corrected" and rev.fragment_fraction is not None
    own_grade = rev.status in ("corrected", "grade-only")
    return ReviewSummary(status, float(rev.fragment_fraction) if painted else None,
                         rev.grade if own_grade else None, rev.annotator or "")


def of_state(state: ImageState, by: str) -> ReviewSummary | None:
    """The summary of the facts ``state`` holds now (after a save)."""
    status = state.shown_status()
    if status is None:
        return None
    painted = state.painted()
    frac = state.editor.stats.fraction if painted else None
    own_grade = painted or state.override is not None
    return ReviewSummary(status, None if frac is None or frac != frac else float(frac),
                         state.final_grade() if own_grade else None, by)


class ReviewIndex:
    """One folder's reviews by image hash, for the list: one record per sha in the store, so
    every row of that sha (byte-identical copies under other names) shows the same review.

    A row is listed before its file is hashed; until then only a path the record was saved
    under can name its sha (the file may have changed since: the hash, once known, decides).
    """

    def __init__(self, revisions=()) -> None:
        self._by_sha: dict[str, ReviewSummary | None] = {}
        self._sha_at: dict[str, str] = {}  # path relative to the folder -> sha saved there
        for rev in revisions:
            self.note(rev.sha256, rev.path, of_revision(rev))

    def note(self, sha: str, rel: str, summary: ReviewSummary | None) -> None:
        self._by_sha[sha] = summary
        self._sha_at[rel] = sha

    def sha_of(self, sha: str | None, rel: str) -> str | None:
        """The sha a row stands for: its own once known, else the one last saved at its path."""
        return sha or self._sha_at.get(rel)

    def of(self, sha: str | None, rel: str) -> ReviewSummary | None:
        key = self.sha_of(sha, rel)
        return None if key is None else self._by_sha.get(key)
