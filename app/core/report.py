"""Grade reports: one CSV row per image, plus a summary file beside it. Qt-free.

The CSV is UTF-8, its first line a comment ``# EmbryoGrade <version> — For
research use only``, then a header row and one row per image; nothing else,
so ``pandas.read_csv(path, comment=None, skiprows=1)`` or
``csv.DictReader`` after one ``readline`` reads it. Column meanings are in
``docs/report-format.md`` and in ``COLUMNS`` below (the same text).

Human review wins: a reviewed or corrected record from the annotation store
fills the ``corrected_*`` columns and the ``final_*`` columns that a reader
should use; the model's own numbers stay in their columns, never overwritten.

The GUI's File → Export report… calls ``build_rows`` then ``write_report``
from a worker thread; the ``grade`` command builds rows from its own
predictions with ``make_row``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from app.core import atomic
from app.core.csv_safety import restore_text, safe_flag, safe_number, safe_text
from app.core.embryo_presence import NO_EMBRYO as PRESENCE_NONE
from app.core.embryo_presence import presence_of
from app.core.pseudonym import IdMapper
from app.core.timelapse import parse_name
from app.version import APP_NAME, RESEARCH_NOTICE, __version__

CONVENTION = "projected area: fragment/(blastomere+fragment)"

# name, kind, description. Kinds: text, pct (0-100), num (>= 0), int (may be
# negative), flag (yes/no). Order is the column order of the file.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("image", "text", "image path relative to the graded folder, '/' separators"),
    ("sha256", "text", "SHA-256 of the image file's bytes"),
    ("patient_id", "text", "pseudonymous patient/cycle id (mapping CSV, else folder name)"),
    ("embryo_id", "text", "embryo id: the time-lapse name before _RUN, else the file stem"),
    ("well", "int", "well number from a time-lapse name, else empty"),
    ("hpi", "num", "hours post insemination from the file name, else empty"),
    ("focal_plane", "int", "focal plane offset (e.g. -15) from the file name, else empty"),
    ("fragment_pct_mask", "pct", "model: fragmentation % from the segmentation mask"),
    ("fragment_pct_regression", "pct", "model: fragmentation % from the regression head"),
    ("fragmentation_convention", "text", "what the percentages measure"),
    ("grade", "text", "model: grade of fragment_pct_mask under `scheme`"),
    ("scheme", "text", "grading scheme of every grade column (istanbul, asebir, eqc)"),
    ("uncertainty", "num", "model: uncertainty of the fragmentation, percentage points"),
    ("borderline", "flag", "model: a fraction lies near a cut-off, or the two grades differ"),
    ("disagreement", "flag", "model: mask and regression % differ by more than 5 points"),
    ("status", "text", "model, reviewed, corrected, ungraded, or why there is no grade: no embryo, "
                       "several embryos, unreadable"),
    ("corrected_fragment_pct", "pct", "human: fragmentation % of the reviewed/corrected mask"),
    ("corrected_grade", "text", "human: grade after review or correction"),
    ("corrected_scheme", "text", "scheme the human grade was given in (converted when possible)"),
    ("final_fragment_pct", "pct", "the % to use: corrected if any, else the model's mask %"),
    ("final_grade", "text", "the grade to use: corrected if any, else the model's"),
    ("override_reason", "text", "reason given for a grade override"),
    ("annotator", "text", "who reviewed or corrected"),
    ("reviewed_utc", "text", "when it was reviewed or corrected (UTC, ISO 8601)"),
    ("warnings", "text", "model warnings, '; '-separated; for an ungradable image, the reason"),
    ("model_version", "text", "short SHA-256 of the checkpoint file that graded the image"),
    ("app_version", "text", "EmbryoGrade version that wrote the report"),
    ("graded_utc", "text", "when the report row was made (UTC, ISO 8601)"),
)
FIELDNAMES = tuple(c[0] for c in COLUMNS)
_KINDS = {c[0]: c[1] for c in COLUMNS}
NO_EMBRYO, SEVERAL, UNREADABLE = "no embryo", "several embryos", "unreadable"
# Rows with these statuses carry no grade and no %: they are counted, never graded.
STATUSES = ("model", "reviewed", "corrected", "ungraded", NO_EMBRYO, SEVERAL, UNREADABLE)


def header_comment() -> str:
    return f"# {APP_NAME} {__version__} — {RESEARCH_NOTICE}"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def summary_path(report_path: str | os.PathLike) -> Path:
    p = Path(report_path)
    return p.with_name(p.stem + ".summary.txt")


# -- rows -------------------------------------------------------------------------------------
def _field(record, *names):
    for n in names:
        v = record.get(n) if isinstance(record, Mapping) else getattr(record, n, None)
        if v is not None and v != "":
            return v
    return None


def _correction(record, scheme: str) -> dict:
    """The report's view of a store record (dict-like or attribute object)."""
    from model.grading import get_scheme

    status = str(_field(record, "status") or "")
    if status not in ("reviewed", "corrected", "grade-only"):
        return {}
    frac = _field(record, "fragment_fraction", "fraction")
    pct = float(frac) * 100.0 if frac is not None else _field(record, "fragment_pct")
    grade, rec_scheme = _field(record, "grade"), _field(record, "scheme") or scheme
    set_by_hand = _field(record, "grade_reason") is not None  # ADR 0006: it wins over the mask's
    if pct is not None and not set_by_hand and (grade is None or rec_scheme != scheme):
        # a % converts to any scheme; a bare grade (grade-only) stays in its own
        grade, rec_scheme = get_scheme(scheme).grade(float(pct)), scheme
    reason = _field(record, "grade_reason", "override_reason", "reason")
    text = _field(record, "reason_text")
    if reason and text:
        reason = f"{reason}: {text}"
    return {
        # a grade-only override is a correction of the grade, the mask untouched
        "status": "reviewed" if status == "reviewed" else "corrected",
        "corrected_fragment_pct": None if pct is None else float(pct),
        "corrected_grade": None if grade is None else str(grade),
        "corrected_scheme": rec_scheme if grade is not None else None,
        "override_reason": reason or text,
        "annotator": _field(record, "annotator"),
        "reviewed_utc": _field(record, "time_utc", "created_utc", "reviewed_utc"),
    }


def make_row(rel_path: str, sha256: str, prediction=None, correction=None, *,
             patient_id: str = "", scheme: str = "istanbul", graded_utc: str | None = None) -> dict:
    """One report row (Python values; ``write_report`` formats them).

    ``prediction`` is a ``model.predictor.Prediction`` (regraded to ``scheme``
    if needed) or None; ``correction`` a store record or None.
    """
    rel = rel_path.replace("\\", "/")
    info = parse_name(Path(rel).name)
    row: dict = dict.fromkeys(FIELDNAMES)
    row.update(image=rel, sha256=sha256, patient_id=patient_id, embryo_id=info.embryo_id,
               well=info.well, hpi=info.hours, focal_plane=info.focal_plane,
               fragmentation_convention=CONVENTION, scheme=scheme, status="ungraded",
               app_version=__version__, graded_utc=graded_utc or utc_now())
    if prediction is not None:
        p = prediction if prediction.scheme == scheme else prediction.regrade(scheme)
        reg = p.fragment_pct_regression
        row.update(fragment_pct_mask=p.fragment_pct_mask,
                   fragment_pct_regression=None if math.isnan(reg) else reg,
                   grade=p.grade, uncertainty=p.uncertainty, borderline=p.borderline,
                   disagreement=p.disagreement, status="model", model_version=p.model_version,
                   warnings="; ".join(p.warnings), final_fragment_pct=p.fragment_pct_mask,
                   final_grade=p.grade)
        presence = presence_of(p)
        if presence is not None:  # a grade of no embryo, or of several at once, means nothing
            row.update(status=NO_EMBRYO if presence == PRESENCE_NONE else SEVERAL, grade=None,
                       fragment_pct_mask=None, fragment_pct_regression=None, uncertainty=None,
                       borderline=None, disagreement=None, final_fragment_pct=None, final_grade=None)
    corr = _correction(correction, scheme) if correction is not None else {}
    if corr:
        if corr["status"] == "reviewed" and corr["corrected_fragment_pct"] is None:
            # "reviewed" accepts the model's mask, so its % is the model's
            corr["corrected_fragment_pct"] = row["fragment_pct_mask"]
            corr["corrected_grade"] = corr["corrected_grade"] or row["grade"]
            corr["corrected_scheme"] = corr["corrected_scheme"] or scheme
        row.update(corr)
        row["final_grade"] = corr["corrected_grade"] or row["final_grade"]
        # a grade-only override leaves no % that matches the final grade; a grade set over a
        # painted mask keeps the mask's % (the measurement) beside the hand-set grade (ADR 0006)
        row["final_fragment_pct"] = corr["corrected_fragment_pct"]
    return row


def failure_row(rel_path: str, message: str) -> dict:
    """The row of a file that could not be read or graded: status and reason, no numbers."""
    row = make_row(rel_path, "", None, None)
    row.update(status=UNREADABLE, warnings=message)
    return row


def _store_record(store, sha256: str):
    if store is None:
        return None
    if isinstance(store, Mapping):
        return store.get(sha256)
    current = getattr(store, "current", None)  # app.core.store.AnnotationStore
    if callable(current):
        return current(sha256, masks=False)  # the report needs numbers, not the masks
    raise TypeError(f"{type(store).__name__} offers no current(sha256) lookup")


def build_rows(folder: str | os.PathLike, images: Iterable[str | os.PathLike], cache, store,
               scheme: str, model_version: str, ids: IdMapper | None = None,
               failures: list | None = None) -> list[dict]:
    """Rows for images of ``folder`` from the result cache and the annotation store.

    Images without a cached prediction for ``model_version`` still get a row
    (status ``ungraded`` unless a human graded them). Reads no pixels; the
    SHA-256 comes from the cache's memoised ``file_sha256``. A file that
    vanished gets no row; (rel path, message) goes to ``failures`` if given.
    """
    root = Path(folder)
    ids = ids or IdMapper(folder_name=root.resolve().name)
    now = utc_now()
    rows = []
    for img in images:
        path = Path(img) if Path(img).is_absolute() else root / img
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        try:
            sha = cache.file_sha256(path)
        except OSError as exc:
            if failures is not None:
                failures.append((rel, f"{path}: cannot read file ({exc.strerror or exc})"))
            continue
        pred = cache.get(sha, model_version, scheme=scheme)
        rows.append(make_row(rel, sha, pred, _store_record(store, sha), patient_id=ids.id_for(rel),
                             scheme=scheme, graded_utc=now))
    return rows


# -- writing and reading ------------------------------------------------------------------------
def format_row(row: Mapping) -> list[str]:
    out = []
    for name in FIELDNAMES:
        kind, v = _KINDS[name], row.get(name)
        if kind == "text":
            out.append(safe_text(v))
        elif kind == "flag":
            out.append(safe_flag(v))
        elif kind == "int":
            out.append(safe_number(v, decimals=None, allow_negative=True))
        elif kind == "pct":
            if v is not None and not 0.0 <= float(v) <= 100.0 + 1e-9:
                raise ValueError(f"{name}: {v} is not a percentage in [0, 100]")
            out.append(safe_number(v, decimals=2))
        else:
            out.append(safe_number(v, decimals=2))
    return out


def write_report(path: str | os.PathLike, rows: Iterable[Mapping], failures: Iterable[tuple[str, str]] = (),
                 write_summary: bool = True) -> dict:
    """Write the CSV (and ``<stem>.summary.txt`` beside it) atomically; return the summary.

    ``failures`` are (relative path, message) of images that could not be
    read or graded: each gets a row with status ``unreadable`` and the reason
    in ``warnings``, so the report accounts for every file; the summary
    counts and lists them.
    """
    rows, failures = list(rows), list(failures)
    buf = io.StringIO(newline="")
    buf.write(header_comment() + "\r\n")
    w = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    w.writerow(FIELDNAMES)
    for row in rows + [failure_row(rel, msg) for rel, msg in failures]:
        w.writerow(format_row(row))
    atomic.write_text(path, buf.getvalue())
    summary = summarize(rows, failures)
    if write_summary:
        atomic.write_text(summary_path(path), render_summary(summary, Path(path).name))
    return summary


def read_report(path: str | os.PathLike, restore: bool = True) -> tuple[str, list[dict[str, str]]]:
    """(first comment line, rows as dicts of strings); text cells un-neutralised when ``restore``."""
    with open(path, encoding="utf-8", newline="") as f:
        first = f.readline().rstrip("\r\n")
        if not first.startswith("#"):
            raise ValueError(f"{path}: not an {APP_NAME} report (no '#' comment line first)")
        rows = list(csv.DictReader(f))
    if restore:
        for r in rows:
            for k, v in r.items():
                if _KINDS.get(k) == "text" and v:
                    r[k] = restore_text(v)
    return first, rows


# -- summary ----------------------------------------------------------------------------------
def summarize(rows: list[Mapping], failures: list[tuple[str, str]] = ()) -> dict:
    per_grade = Counter(str(r["final_grade"]) for r in rows if r.get("final_grade") not in (None, ""))
    pct = [float(r["final_fragment_pct"]) for r in rows if r.get("final_fragment_pct") not in (None, "")]
    status = Counter(str(r.get("status")) for r in rows)
    status[UNREADABLE] += len(failures)
    return {
        "images": len(rows) + len(failures),
        "rows": len(rows),
        "failed": len(failures),
        "failures": [list(f) for f in failures],
        "scheme": rows[0]["scheme"] if rows else None,
        "per_final_grade": dict(sorted(per_grade.items())),
        "mean_final_fragment_pct": round(statistics.fmean(pct), 2) if pct else None,
        "median_final_fragment_pct": round(statistics.median(pct), 2) if pct else None,
        "status": {s: status.get(s, 0) for s in STATUSES},
        "borderline": sum(1 for r in rows if r.get("borderline") in (True, "yes")),
        "disagreement": sum(1 for r in rows if r.get("disagreement") in (True, "yes")),
    }


def render_summary(s: Mapping, report_name: str = "") -> str:
    lines = [header_comment()[2:], f"Summary of {report_name}" if report_name else "Summary", ""]
    lines.append(f"images: {s['images']}  (in the report: {s['rows']}, failed: {s['failed']})")
    lines.append(f"scheme: {s['scheme'] or '-'}   fragmentation: {CONVENTION}")
    lines.append("images per final grade:")
    lines += [f"  {g}: {n}" for g, n in s["per_final_grade"].items()] or ["  (none)"]
    for k in ("mean", "median"):
        v = s[f"{k}_final_fragment_pct"]
        lines.append(f"{k} final fragmentation: {'-' if v is None else f'{v:.2f} %'}")
    st = s["status"]
    lines.append("status: " + ", ".join(f"{k} {st[k]}" for k in STATUSES))
    lines.append(f"borderline: {s['borderline']}   model disagreement: {s['disagreement']}")
    if s["failures"]:
        lines.append("failed images:")
        lines += [f"  {p}: {msg}" for p, msg in s["failures"]]
    return "\n".join(lines) + "\n"
