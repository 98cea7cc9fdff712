"""``grade``: grade every image of a folder and write a CSV report.

Resumable: results go to the folder's result cache (the one the review
window uses) as they come, so a second run, or the GUI, skips what is done
unless ``--force``. Exit status: 0 all graded, 1 some image failed (the
report holds the others), 2 no usable model, bad folder or mapping.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from app.cli.predict_cmd import EXIT_PARTIAL, EXIT_UNUSABLE, ModelUnavailable, add_model_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, metavar="FOLDER", help="folder of images")
    parser.add_argument("--out", type=Path, required=True, metavar="REPORT.csv",
                        help="CSV report to write (a .summary.txt is written beside it)")
    add_model_arguments(parser)
    parser.add_argument("--recursive", action="store_true", help="include sub-folders")
    parser.add_argument("--force", action="store_true",
                        help="grade again images already graded by this model version")
    parser.add_argument("--ids", type=Path, metavar="MAPPING.csv",
                        help="pseudonymous ids: CSV with columns folder_or_prefix,id "
                        "(default: each image's folder name); see docs/report-format.md")
    parser.add_argument("--batch-size", type=int, default=4, metavar="N",
                        help="images per model call (default: 4)")
    parser.add_argument("--store", metavar="SPEC",
                        help="annotation store whose corrections the report shows: an annotations.h5 "
                        "path or the lab server's postgresql://host/db URL (default: the folder's own)")


class Progress:
    """A one-line bar on a terminal; on a pipe, a line every few seconds."""

    def __init__(self, stream=sys.stderr, every_s: float = 5.0):
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every_s = every_s
        self.last = 0.0
        self.last_done = -1
        self.dirty = False

    def update(self, ev, final: bool = False) -> None:
        now = time.monotonic()
        if not self.tty and (ev.done == self.last_done or (not final and now - self.last < self.every_s)):
            return
        self.last, self.last_done = now, ev.done
        frac = ev.done / ev.total if ev.total else 1.0
        bar = "#" * int(frac * 24)
        eta = "-" if ev.eta_s is None else time.strftime("%H:%M:%S", time.gmtime(ev.eta_s))
        line = f"[{bar:<24}] {ev.done}/{ev.total}  {ev.rate:.2f} img/s  ETA {eta}"
        if self.tty:  # padded so a shorter line wipes the longer one before it
            self.stream.write("\r" + line.ljust(72) + ("\n" if final else ""))
            self.dirty = not final
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        if self.dirty:  # finish the bar's line so the message is not glued to it
            self.stream.write("\n")
            self.dirty = False
        self.stream.write(text + "\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from app.cli.predict_cmd import load_predictor
    from app.core.batch import grade_images
    from app.core.imaging import list_images
    from app.core.pseudonym import IdMapper, MappingError
    from app.core.report import make_row, utc_now, write_report
    from app.core.result_cache import ResultCache

    folder: Path = args.folder
    try:
        images = list_images(folder, recursive=args.recursive)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    if not images:
        hint = "" if args.recursive else " (add --recursive to include sub-folders)"
        print(f"error: no images in {folder}{hint}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        ids = (IdMapper.from_csv(args.ids, folder.resolve().name) if args.ids
               else IdMapper(folder_name=folder.resolve().name))
    except MappingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        predictor = load_predictor(args.model, args.device, args.threads)
    except ModelUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    cache = ResultCache(folder)
    store = _open_store(folder, args.store)
    progress = Progress()
    print(f"grading {len(images)} image(s) of {folder} with model {predictor.version} on "
          f"{predictor.device}", file=sys.stderr)

    rows, failures, cached = [], [], 0
    ev = None
    try:
        for ev in grade_images(folder, images, predictor, cache, scheme=args.scheme,
                               force=args.force, batch_size=args.batch_size):
            if ev.kind == "failed":
                failures.append((ev.rel, ev.error))
                progress.message(f"error: {ev.error}")
            else:
                cached += ev.kind == "cached"
                if ev.warning:
                    progress.message(f"warning: {ev.warning}")
                record, store = _correction(store, ev.sha256)
                rows.append(make_row(ev.rel, ev.sha256, ev.prediction, record,
                                     patient_id=ids.id_for(ev.rel), scheme=args.scheme,
                                     graded_utc=utc_now()))
            progress.update(ev)
        if ev is not None:
            progress.update(ev, final=True)
    finally:
        if store is not None:
            store.close(compact=False)
    order = images_order(images, folder)
    rows.sort(key=lambda r: order.get(r["image"], 0))
    summary = write_report(args.out, rows, failures)
    print(f"report: {args.out} ({summary['rows']} row(s); {cached} reused from the cache, "
          f"{summary['failed']} failed; summary in {args.out.stem}.summary.txt)", file=sys.stderr)
    if failures:
        print(f"{len(failures)} image(s) could not be graded: see the lines above", file=sys.stderr)
        return EXIT_PARTIAL
    return 0


def images_order(images: list[Path], folder: Path) -> dict[str, int]:
    # cached results are reported first by the engine; the report keeps folder order
    return {p.relative_to(folder).as_posix(): i for i, p in enumerate(images)}


def _correction(store, sha256: str):
    """(latest store record or None, the store or None once it failed: warn once, go on)."""
    if store is None:
        return None, None
    try:
        return store.current(sha256, masks=False), store
    except Exception as exc:  # a damaged store must not cost the model's report
        print(f"\nwarning: annotation store not read ({exc}): the report shows model values only",
              file=sys.stderr)
        store.close(compact=False)
        return None, None


def _open_store(folder: Path, spec: str | None = None):
    """The annotation store, read-only (the GUI may hold the writer's lock), or None."""
    try:
        from app.core.store import StoreError
        from app.core.store_api import open_for_folder, open_store
    except ImportError:
        return None
    try:
        if spec:
            from app.cli.server_cmd import ask_password

            return open_store(spec, folder, readonly=True, ask_password=ask_password)
        return open_for_folder(folder, readonly=True)
    except FileNotFoundError:
        return None
    except StoreError as exc:
        print(f"warning: annotation store not read ({exc}): the report shows model values only",
              file=sys.stderr)
        return None
