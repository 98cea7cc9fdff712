"""On-disk format of the annotation store: the revision record and its HDF5 encoding.

Both the main file and every journal entry use the same layout (see
``docs/annotation-store.md``), so folding the journal into the main file is a
plain copy of HDF5 objects. Qt-free and torch-free.
"""

from __future__ import annotations

import json
import re
import uuid as uuidlib
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path, PurePath

import h5py
import numpy as np

FORMAT_NAME = "embryograde-annotations"
SCHEMA_VERSION = 1
LABEL_STATUSES = ("reviewed", "corrected", "grade-only")
# The annotator undid a stored correction back to the model's result: no label any more.
WITHDRAWN = "withdrawn"
STATUSES = (*LABEL_STATUSES, WITHDRAWN)
GRADE_REASONS = ("mask wrong", "image poor", "other")
MASK_CLASSES = (0, 1, 2)  # background, blastomere, fragment

# Fields kept in the JSON ``meta`` attribute of a revision group; arrays are datasets.
_ARRAY_FIELDS = ("mask", "model_mask")


class StoreError(Exception):
    """Base of the store's errors; the message is meant for the user."""


class StoreFormatError(StoreError):
    """A file that is not a readable store of a schema this app knows."""


class RevisionError(StoreError, ValueError):
    """A revision that does not satisfy the schema (rejected before any write)."""


@dataclass
class Revision:
    """One saved state of one image's annotation. Never modified once stored.

    ``seq``, ``uuid``, ``time_utc`` and ``app_version`` are filled in by the
    store when left empty. ``fragment_fraction`` is a fraction in [0, 1].
    """

    sha256: str
    path: str
    status: str
    annotator: str
    mask: np.ndarray | None = None
    model_mask: np.ndarray | None = None
    grade: str | None = None
    scheme: str | None = None
    fragment_fraction: float | None = None
    grade_reason: str | None = None
    reason_text: str = ""
    model_version: str = ""
    app_version: str = ""
    time_utc: str = ""
    uuid: str = ""
    seq: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def label_mask(self) -> np.ndarray | None:
        """The mask to train on: the corrected mask, or the accepted model mask."""
        if self.status in ("grade-only", WITHDRAWN):
            return None
        return self.mask if self.mask is not None else self.model_mask

    def meta(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _ARRAY_FIELDS}


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_uuid() -> str:
    return uuidlib.uuid4().hex


def embryo_key(path: str) -> str:
    """Time-lapse name before ``_RUN<n>`` (all runs of one well are one embryo), else the stem."""
    stem = PurePath(str(path).replace("\\", "/")).stem
    m = re.match(r"^(.+?)_RUN\d+", stem)
    return m.group(1) if m else stem


def relative_path(path: str, folder: Path) -> str:
    """A revision's path: relative to the image folder, ``/``-separated; absolute if outside it."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(folder.resolve())
        except ValueError:
            return p.as_posix()
    return p.as_posix().replace("\\", "/")


def validate(rev: Revision, image_shape: tuple[int, ...] | None) -> None:
    """Reject a revision that would be useless or ambiguous later; raises RevisionError."""
    if not re.fullmatch(r"[0-9a-f]{64}", rev.sha256 or ""):
        raise RevisionError(f"sha256 must be 64 lower-case hex digits, got {rev.sha256!r}")
    if not rev.path:
        raise RevisionError("path is empty")
    if rev.status not in STATUSES:
        raise RevisionError(f"status {rev.status!r} is not one of {STATUSES}")
    if not rev.annotator:
        raise RevisionError("annotator is empty")
    if rev.status == "corrected" and rev.mask is None:
        raise RevisionError("a 'corrected' revision needs the corrected mask")
    if rev.status == "reviewed" and rev.mask is None and rev.model_mask is None:
        raise RevisionError("a 'reviewed' revision needs the accepted (model) mask")
    if rev.status == "grade-only":
        if rev.mask is not None:
            raise RevisionError("a 'grade-only' revision carries no corrected mask")
        if not rev.grade or not rev.scheme:
            raise RevisionError("a 'grade-only' revision needs grade and scheme")
        if rev.grade_reason not in GRADE_REASONS:
            raise RevisionError(f"grade_reason must be one of {GRADE_REASONS}")
        if rev.grade_reason == "other" and not rev.reason_text.strip():
            raise RevisionError("grade_reason 'other' needs a free-text reason")
    if rev.status == WITHDRAWN and (rev.mask is not None or rev.grade):
        raise RevisionError("a 'withdrawn' revision carries no mask and no grade")
    if rev.fragment_fraction is not None and not 0.0 <= float(rev.fragment_fraction) <= 1.0:
        raise RevisionError(f"fragment_fraction {rev.fragment_fraction} is not in [0, 1]")
    for name in _ARRAY_FIELDS:
        m = getattr(rev, name)
        if m is None:
            continue
        if not isinstance(m, np.ndarray) or m.ndim != 2 or m.dtype != np.uint8:
            raise RevisionError(f"{name} must be a 2-D uint8 array")
        if image_shape is not None and m.shape != tuple(image_shape[:2]):
            raise RevisionError(f"{name} shape {m.shape} differs from the image {image_shape[:2]}")
        if int(m.max(initial=0)) > 2:
            raise RevisionError(f"{name} has values outside 0/1/2")
    try:
        json.dumps(rev.extra)
    except TypeError as exc:
        raise RevisionError(f"extra is not JSON-serialisable: {exc}") from None


def validate_image(img: np.ndarray) -> None:
    if not isinstance(img, np.ndarray) or img.dtype not in (np.uint8, np.uint16):
        raise RevisionError("image must be a uint8 or uint16 array")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise RevisionError(f"image must be gray HxW or RGB HxWx3, got shape {img.shape}")


def group_name(rev: Revision) -> str:
    return f"{rev.seq:09d}-{rev.uuid}"


def _dataset(parent: h5py.Group, name: str, arr: np.ndarray, level: int) -> None:
    # One chunk per array (read whole anyway); fletcher32 turns silent bit rot into an error.
    parent.create_dataset(
        name,
        data=arr,
        chunks=arr.shape,
        compression="gzip",
        compression_opts=level,
        shuffle=arr.dtype.itemsize > 1,
        fletcher32=True,
    )


def write_root_attrs(f: h5py.File, kind: str, app_version: str) -> None:
    f.attrs["format"] = FORMAT_NAME
    f.attrs["schema_version"] = SCHEMA_VERSION
    f.attrs["kind"] = kind
    f.attrs["written_utc"] = utc_now_iso()
    f.attrs["app_version"] = app_version


def check_root_attrs(f: h5py.File, name: str) -> None:
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT_NAME:
        raise StoreFormatError(f"{name}: not an EmbryoGrade annotation store (format={fmt!r})")
    version = f.attrs.get("schema_version")
    if version is None or int(version) != SCHEMA_VERSION:
        raise StoreFormatError(
            f"{name}: schema version {version!r} is not supported (this app reads {SCHEMA_VERSION})"
        )


def write_revision(f: h5py.File, rev: Revision) -> str:
    g = f.require_group("revisions").create_group(group_name(rev))
    g.attrs["meta"] = json.dumps(rev.meta(), sort_keys=True)
    for name in _ARRAY_FIELDS:
        arr = getattr(rev, name)
        if arr is not None:
            # Masks are 0/1/2 with long runs: level 1 already shrinks them ~100x.
            _dataset(g, name, np.ascontiguousarray(arr), level=1)
    return g.name


def write_image(f: h5py.File, sha: str, img: np.ndarray, path: str) -> None:
    images = f.require_group("images")
    _dataset(images, sha, np.ascontiguousarray(img), level=1)
    images[sha].attrs["path"] = path


def read_meta(g: h5py.Group) -> Revision:
    raw = g.attrs["meta"]
    meta = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    known = {f.name for f in fields(Revision)} - set(_ARRAY_FIELDS)
    rev = Revision(**{k: v for k, v in meta.items() if k in known})
    if not rev.uuid or not rev.sha256:
        raise StoreFormatError(f"{g.name}: revision without uuid or sha256")
    return rev


def read_arrays(g: h5py.Group, rev: Revision) -> Revision:
    for name in _ARRAY_FIELDS:
        if name in g:
            setattr(rev, name, g[name][()])
    return rev


def write_compacted(target, main: h5py.File | None, journal: list, app_version: str) -> None:
    """Write main file + journal entries into ``target`` (a new file), skipping duplicates."""
    with h5py.File(target, "w") as out:
        write_root_attrs(out, "main", app_version)
        # Group copies are H5Ocopy: compressed chunks move without being re-encoded.
        for name in ("images", "revisions"):
            if main is not None and name in main:
                main.copy(main[name], out, name=name)
            else:
                out.create_group(name)
        for path in journal:
            with h5py.File(path, "r", locking=False) as j:
                for name in ("images", "revisions"):
                    for key, obj in j.get(name, {}).items():
                        if key not in out[name]:
                            j.copy(obj, out[name], name=key)
