"""Rows of the lab server's tables as the store's objects: compressed arrays, revisions. Qt-free."""

from __future__ import annotations

import zlib
from datetime import datetime, timezone

import numpy as np

from app.core.store_format import Revision

META = ("seq, uuid, sha256, path, status, annotator, recorded_at, grade, scheme, fragment_fraction, "
        "grade_reason, reason_text, model_version, app_version, extra")
CURRENT = (f"SELECT DISTINCT ON (sha256) {META}, count(*) OVER (PARTITION BY sha256) "
           "FROM revisions {where} ORDER BY sha256, seq DESC")


def pack(arr: np.ndarray | None) -> bytes | None:
    return None if arr is None else zlib.compress(np.ascontiguousarray(arr).tobytes(), 1)


def unpack(data: bytes | None, shape: tuple[int, ...], dtype: str = "uint8") -> np.ndarray | None:
    return None if data is None else np.frombuffer(zlib.decompress(data), dtype).reshape(shape).copy()


def iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def revision(row) -> Revision:
    seq, uid, sha, path, status, who, at, grade, scheme, frac, reason, text, mv, av, extra = row[:15]
    return Revision(sha, path, status, who, grade=grade, scheme=scheme, fragment_fraction=frac,
                    grade_reason=reason, reason_text=text, model_version=mv, app_version=av,
                    time_utc=iso(at), uuid=uid.hex, seq=seq, extra=dict(extra or {}))
