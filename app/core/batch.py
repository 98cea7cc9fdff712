"""Batch grading of many images: a generator of progress events. Qt-free.

The ``grade`` command draws a progress bar from the events; the GUI runs the
same generator in a worker and cancels by closing it (``gen.close()``), which
stops at the next event with every finished result already in the cache.

Resumable by construction: each result goes to the ``ResultCache`` (the one
the review window fills) as soon as it exists, and an image whose SHA-256
already has a result for this model version is not graded again unless
``force``. One unreadable image costs one ``failed`` event, never the batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core.embryo_presence import annotate as annotate_presence
from app.core.imaging import ImageReadError, read_image


@dataclass
class BatchEvent:
    kind: str  # "cached" (result reused), "graded", or "failed"
    path: Path
    rel: str  # path relative to the folder, '/' separators
    sha256: str | None
    prediction: object | None  # model.predictor.Prediction, under the asked scheme
    error: str | None  # for "failed": one line naming the file and the fault
    done: int  # images finished so far, this one included
    total: int
    graded: int  # images the model has run on so far
    to_grade: int  # images the model has to run on in all
    elapsed_s: float  # since the first model run
    warning: str | None = None  # e.g. the cache could not be written

    @property
    def rate(self) -> float:
        """Images per second through the model (0 until one is graded)."""
        return self.graded / self.elapsed_s if self.graded and self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        r = self.rate
        return (self.to_grade - self.graded) / r if r > 0 else None


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def grade_images(folder: str | Path, images: Iterable[str | Path], predictor, cache,
                 scheme: str = "istanbul", force: bool = False, batch_size: int = 4) -> Iterator[BatchEvent]:
    """Grade ``images`` of ``folder`` with ``predictor``, yielding one event per image.

    Cached results come first (they cost a hash, not a model run), then the
    rest in batches of ``batch_size`` through ``predictor.predict_batch``.
    """
    root = Path(folder)
    paths = [Path(p) if Path(p).is_absolute() else root / p for p in images]
    total, done, graded = len(paths), 0, 0
    version = predictor.version
    todo: list[tuple[Path, str]] = []

    def event(kind, path, sha, pred=None, error=None, warning=None, t0=None):
        return BatchEvent(kind, path, _rel(path, root), sha, pred, error, done, total, graded,
                          len(todo), 0.0 if t0 is None else time.perf_counter() - t0, warning)

    for path in paths:
        try:
            sha = cache.file_sha256(path)
        except OSError as exc:
            done += 1
            yield event("failed", path, None, error=f"{path}: cannot read file ({exc.strerror or exc})")
            continue
        pred = None if force else cache.get(sha, version, scheme=scheme)
        if pred is not None:
            done += 1
            yield event("cached", path, sha, pred)
        else:
            todo.append((path, sha))

    t0 = time.perf_counter()
    for start in range(0, len(todo), max(1, batch_size)):
        chunk = todo[start:start + max(1, batch_size)]
        readable, failed = [], []
        for path, sha in chunk:
            try:
                readable.append((path, sha, read_image(path)))
            except ImageReadError as exc:
                failed.append((path, sha, str(exc)))
        results = _predict(predictor, readable, scheme)
        for path, sha, msg in failed:
            done += 1
            graded += 1  # counted so the ETA does not wait for it
            yield event("failed", path, sha, error=msg, t0=t0)
        for (path, sha, img), res in zip(readable, results):
            done += 1
            graded += 1
            if isinstance(res, str):
                yield event("failed", path, sha, error=f"{path}: {res}", t0=t0)
                continue
            annotate_presence(img, res)  # before caching: the verdict travels with the result
            warning = None
            try:
                cache.put(sha, res)
            except OSError as exc:  # a read-only or full disk must not lose the report
                warning = f"result cache not written ({exc.strerror or exc}): grading will not resume"
            yield event("graded", path, sha, res, warning=warning, t0=t0)
    flush = getattr(cache, "flush", None)
    if callable(flush):
        flush()


def _predict(predictor, items: list, scheme: str) -> list:
    """Predictions for items (path, sha, image); a per-image error message in place of a failure."""
    if not items:
        return []
    try:
        return predictor.predict_batch([img for _, _, img in items], scheme=scheme,
                                       batch_size=len(items))
    except (ValueError, TypeError):
        pass
    out = []  # one bad image (e.g. too small) refused the batch: find it
    for _, _, img in items:
        try:
            out.append(predictor.predict(img, scheme=scheme))
        except (ValueError, TypeError) as exc:
            out.append(f"cannot be graded ({exc})")
    return out
