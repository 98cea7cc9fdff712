"""One save on the lab server, in one transaction: the pixels (first save of an image), where this
workstation has the image, the revision. Qt-free; used by ``ServerStore`` for direct saves and
for the journal's entries alike, so a resent entry is the same statement (its uuid makes it a no-op).
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from app.core.imaging import read_image, sha256_file
from app.core.server_journal import Pending
from app.core.server_rows import pack
from app.core.store_format import RevisionError, StoreError


@dataclass
class Sent:
    seq: int
    annotator: str
    recorded_at: datetime
    others: list  # (annotator, recorded_at) of revisions saved since this workstation's base_seq


def send(conn: psycopg.Connection, item: Pending, located: bool) -> Sent:
    """``located``: this workstation already recorded the image's path in this session."""
    rev, loc = item.rev, item.location
    uid = uuidlib.UUID(hex=rev.uuid)
    try:
        with conn.transaction(), conn.cursor() as cur:
            if item.image is not None:
                img = item.image
                cur.execute("INSERT INTO images (sha256, height, width, channels, dtype, pixels) "
                            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING",
                            (rev.sha256, img.shape[0], img.shape[1], 1 if img.ndim == 2 else 3,
                             str(img.dtype), pack(img)))
            if not located:
                cur.execute("INSERT INTO image_locations (sha256, workstation, path, size_bytes) "
                            "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                            (rev.sha256, loc["workstation"], loc["path"], loc["size_bytes"]))
            cur.execute(
                "INSERT INTO revisions (uuid, sha256, path, workstation, status, client_time, grade, "
                "scheme, fragment_fraction, grade_reason, reason_text, model_version, app_version, "
                "mask, model_mask, extra) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "%s, %s, %s) "
                "ON CONFLICT (uuid) DO NOTHING RETURNING seq, annotator, recorded_at, previous_seq",
                (uid, rev.sha256, rev.path, loc["workstation"], rev.status,
                 rev.time_utc or None, rev.grade, rev.scheme, rev.fragment_fraction, rev.grade_reason,
                 rev.reason_text, rev.model_version, rev.app_version, pack(rev.mask),
                 pack(rev.model_mask), Jsonb(rev.extra)))
            row = cur.fetchone()
            if row is None:  # sent before (a journal entry whose deletion was cut short)
                cur.execute("SELECT seq, annotator, recorded_at, previous_seq FROM revisions "
                            "WHERE uuid = %s", (uid,))
                row = cur.fetchone()
            seq, who, at, previous = row
            others = []
            if previous is not None and previous != item.base_seq:
                cur.execute("SELECT annotator, recorded_at FROM revisions WHERE sha256 = %s AND seq "
                            "< %s AND seq > %s ORDER BY seq", (rev.sha256, seq, item.base_seq or 0))
                others = cur.fetchall()
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.IntegrityError,
            psycopg.errors.DataError) as exc:
        raise StoreError(f"the lab server refused the save: {str(exc).strip()}") from exc
    return Sent(seq, who, at, others)


def read_folder_image(path: Path, sha: str) -> np.ndarray:
    """The pixels a first save sends, from the workstation's folder, checked against the sha."""
    if not path.is_file():
        raise RevisionError(f"the first save of {path.name} needs the image pixels")
    if sha256_file(path) != sha:
        raise RevisionError(f"{path} changed on disk: its SHA-256 no longer matches")
    return read_image(path)
