"""What the result cache already holds for a folder's images, so a reopened folder lists its grades. Qt-free.

Runs in a worker: hashes come from the cache's index (a file changed since
is hashed again), results' scalar fields from the cached files' metadata,
never their arrays. A row whose result is cached then says "graded by
model" with its fraction and grade instead of "not graded".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CachedResult:
    """The scalar part of a cached ``Prediction``: what a folder-list row needs (same names)."""

    model_version: str
    fraction_mask: float
    fraction_regression: float
    uncertainty: float
    grade: str
    borderline: bool
    disagreement: bool
    warnings: list[str] = field(default_factory=list)


def _num(v) -> float:
    return math.nan if v is None else float(v)


def from_meta(meta: dict) -> CachedResult:
    return CachedResult(meta["model_version"], _num(meta.get("fraction_mask")),
                        _num(meta.get("fraction_regression")), _num(meta.get("uncertainty")),
                        meta.get("grade") or "", bool(meta.get("borderline")),
                        bool(meta.get("disagreement")), list(meta.get("warnings") or []))


def cached_results(paths, cache, model_version: str, should_stop=None) -> list[tuple[Path, str, CachedResult]]:
    """(path, sha256, result) for each of ``paths`` whose result by ``model_version`` is cached."""
    out = []
    for p in paths:
        if should_stop is not None and should_stop():
            break
        try:
            sha = cache.file_sha256(p)
        except OSError:
            continue  # vanished or unreadable: its row says so when shown
        meta = cache.get_meta(sha, model_version)
        if meta is not None:
            try:
                out.append((Path(p), sha, from_meta(meta)))
            except (KeyError, TypeError, ValueError):
                continue  # a foreign file: graded again when shown
    cache.flush()
    return out
