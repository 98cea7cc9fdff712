"""Pseudonymous patient/cycle ids for report rows.

The user supplies a mapping CSV with a header and two columns,
``folder_or_prefix,id`` (``prefix`` or ``folder`` are accepted for the first,
``patient_id``/``cycle_id``/``pseudonym`` for the second). Any other column
is ignored and never read into a report: EmbryoScope exports carry first
name, last name and birth date, and a mapping file derived from one must not
leak them. An image gets the id of the longest entry that is a prefix of its
path relative to the graded folder (``/`` separators, case-sensitive), so
``patient07/`` maps a sub-folder and ``D2024.10.20_S01055`` maps the files
of one slide. Without a match the id is the image's folder name (the graded
folder's own name for images at its top level).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path, PurePosixPath

KEY_COLUMNS = ("folder_or_prefix", "prefix", "folder")
ID_COLUMNS = ("id", "patient_id", "cycle_id", "pseudonym")


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the fault."""


class IdMapper:
    def __init__(self, entries: dict[str, str] | None = None, folder_name: str = ""):
        # longest prefix first, so "p07/day3/" wins over "p07/"
        self.entries = sorted((entries or {}).items(), key=lambda kv: -len(kv[0]))
        self.folder_name = folder_name

    @classmethod
    def from_csv(cls, path: str | os.PathLike, folder_name: str = "") -> IdMapper:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise MappingError(f"{p}: cannot read the id mapping ({exc})") from None
        rows = csv.reader(line for line in text.splitlines() if not line.startswith("#"))
        header = [h.strip().lower() for h in next(rows, [])]
        key_i = next((header.index(c) for c in KEY_COLUMNS if c in header), None)
        id_i = next((header.index(c) for c in ID_COLUMNS if c in header), None)
        if key_i is None or id_i is None:
            raise MappingError(
                f"{p}: the id mapping needs a header with columns 'folder_or_prefix' and 'id' "
                f"(found: {', '.join(header) or 'nothing'})"
            )
        entries: dict[str, str] = {}
        for n, row in enumerate(rows, start=2):
            if not any(c.strip() for c in row):
                continue
            if len(row) <= max(key_i, id_i):
                raise MappingError(f"{p}, line {n}: fewer columns than the header")
            key, pid = row[key_i].strip().replace("\\", "/"), row[id_i].strip()
            if not key or not pid:
                raise MappingError(f"{p}, line {n}: empty prefix or id")
            if entries.get(key, pid) != pid:
                raise MappingError(f"{p}, line {n}: {key!r} is mapped twice to different ids")
            entries[key] = pid
        return cls(entries, folder_name)

    def id_for(self, rel_path: str) -> str:
        rel = rel_path.replace("\\", "/")
        for prefix, pid in self.entries:
            if rel.startswith(prefix):
                return pid
        parent = PurePosixPath(rel).parent
        return parent.name if str(parent) not in ("", ".") else self.folder_name
