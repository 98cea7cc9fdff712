"""The review queue: a folder's images ordered so that each correction teaches the model most. Qt-free.

Images unlike the training data first (``Prediction.unusual``: the model's
guess there is least trustworthy, and a correction there teaches most), then
most uncertain (``Prediction.uncertainty``, percentage points; ties:
disagreement between mask and regression, then borderline grades), read
from the result cache only, so ordering never runs the model. Images the
store already holds a review of come after the unreviewed ones (a second
look teaches less), images not graded yet by this model come last.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class QueueItem:
    path: Path
    sha256: str | None
    uncertainty: float | None  # None: not graded by this model yet
    grade: str | None = None
    borderline: bool = False
    disagreement: bool = False
    review_status: str | None = None  # the store's current status of the image, if any
    unusual: bool = False  # far from the training data (model/calibration.py)

    @property
    def graded(self) -> bool:
        return self.uncertainty is not None

    def sort_key(self) -> tuple:
        if not self.graded:
            return (2, 0.0, 0, 0, self.path.name)
        u = self.uncertainty if math.isfinite(self.uncertainty) else math.inf
        return (1 if self.review_status else 0, not self.unusual, -u, not self.disagreement, not self.borderline,
                self.path.name)


def _cached_meta(cache, sha: str, model_version: str) -> dict | None:
    """The scalar part of a cached result without decoding its arrays (cheap for a whole folder)."""
    pred = cache.get_memory(sha, model_version)
    if pred is not None:
        return _cached_meta_from(pred)
    path_of = getattr(cache, "_result_path", None)
    if path_of is None:  # a cache without the documented disk layout: decode the whole result
        pred = cache.get(sha, model_version)
        return None if pred is None else _cached_meta_from(pred)
    try:
        with np.load(path_of(sha, model_version), allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
    except Exception:  # missing, truncated or foreign: not graded
        return None
    return meta if meta.get("model_version") == model_version else None


def _cached_meta_from(pred) -> dict:
    return {"uncertainty": pred.uncertainty, "grade": pred.grade, "borderline": pred.borderline,
            "disagreement": pred.disagreement, "unusual": getattr(pred, "unusual", False)}


def review_order(paths, cache, model_version: str | None, store=None, include_reviewed: bool = True,
                 should_stop=None) -> list[QueueItem]:
    """Order ``paths`` (a folder's images). ``cache``: the folder's ResultCache; ``store``: its
    AnnotationStore (optional). Hashes come from the cache's memoised index."""
    reviewed: dict[str, str] = {}
    if store is not None:
        reviewed = {sha: rev.status for sha, rev in store.current_all(masks=False).items()
                    if rev.status != "withdrawn"}
    items = []
    for p in paths:
        if should_stop is not None and should_stop():
            break
        p = Path(p)
        try:
            sha = cache.file_sha256(p) if cache is not None else None
        except OSError:
            continue  # vanished file
        meta = _cached_meta(cache, sha, model_version) if (sha and model_version and cache is not None) else None
        item = QueueItem(p, sha, None, review_status=reviewed.get(sha))
        if meta is not None and meta.get("uncertainty") is not None:
            item.uncertainty = float(meta["uncertainty"])
            item.grade = meta.get("grade")
            item.borderline = bool(meta.get("borderline"))
            item.disagreement = bool(meta.get("disagreement"))
            item.unusual = bool(meta.get("unusual"))
        if include_reviewed or not item.review_status:
            items.append(item)
    if cache is not None:
        cache.flush()
    return sorted(items, key=QueueItem.sort_key)
