"""Reading the annotation store as training data (used by the training engineer's loader).

Through the store's public API only, so the loader never depends on the file layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from app.core.store_format import LABEL_STATUSES, embryo_key

if TYPE_CHECKING:
    from app.core.store import AnnotationStore


class TrainingSample(NamedTuple):
    image: np.ndarray
    mask: np.ndarray | None  # None for grade-only labels
    grade: str | None
    scheme: str | None
    embryo_key: str
    sha256: str
    provenance: dict


def iter_training_samples(
    store: AnnotationStore, statuses: tuple[str, ...] = LABEL_STATUSES
) -> Iterator[TrainingSample]:
    """Current revisions as training samples, one image read at a time.

    Samples whose pixels are nowhere (neither stored nor in the folder) are skipped.
    """
    for sha in store.shas():
        rev = store.current(sha)
        if rev is None or rev.status not in statuses:
            continue
        try:
            image = store.image(sha)
        except KeyError:
            continue
        provenance = {
            "status": rev.status, "annotator": rev.annotator, "time_utc": rev.time_utc,
            "model_version": rev.model_version, "app_version": rev.app_version,
            "seq": rev.seq, "uuid": rev.uuid, "path": rev.path,
            "revisions": store.revision_count(sha), "fragment_fraction": rev.fragment_fraction,
            "grade_reason": rev.grade_reason, "reason_text": rev.reason_text,
            "model_mask": rev.model_mask, "extra": rev.extra,
        }
        yield TrainingSample(image, rev.label_mask, rev.grade, rev.scheme,
                             embryo_key(rev.path), sha, provenance)
