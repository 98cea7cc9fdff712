"""`annotations import|export|list`: labelme folders in and out of the annotation store.

Exit codes: 0 done; 1 some files could not be used (listed on stderr); 2 the
store could not be opened (locked, absent, damaged when read-only, lab server
unreachable); 3 the store was damaged, moved aside and recovered (the message
says where). ``--store`` is an annotations.h5 path or the lab server's
``postgresql://host/db`` URL.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from app.core.imaging import ImageReadError, list_images, read_image, sha256_file, write_png
from app.core.labelme_io import LabelmeError, read_labelme, write_labelme
from app.core.store import Revision, StoreError
from app.core.store_api import Store, open_store
from app.core.store_format import WITHDRAWN


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("import", help="import a labelme folder (status 'corrected')")
    p.add_argument("--from", dest="src", required=True, help="folder of labelme .json files")
    p.add_argument("--store", required=True,
                   help="annotations.h5 (created if absent) or postgresql://host/db (the lab server)")
    p.add_argument("--annotator", default="labelme-import")
    p.add_argument("--images", help="image folder of the store (default: the store's folder; for a "
                   "server, the current folder); "
                   "an image there with the same name and pixels keys the sample")
    p = sub.add_parser("export", help="write labelme JSON (image embedded) and class masks")
    p.add_argument("--store", required=True)
    p.add_argument("--to", dest="dst", required=True)
    p = sub.add_parser("list", help="one line per sample: path, status, grade, who, when")
    p.add_argument("--store", required=True)


def run(args) -> int:
    try:
        from app.cli.server_cmd import ask_password

        store = open_store(args.store, getattr(args, "images", None), readonly=args.action != "import",
                           ask_password=ask_password)
    except (StoreError, FileNotFoundError, OSError) as exc:
        print(f"error: cannot open the annotation store: {exc}", file=sys.stderr)
        return 2
    try:
        for event in store.recovery:
            if event.kind != "stale-lock":
                print(f"warning: store damaged: {event}", file=sys.stderr)
        status = {"import": _import, "export": _export, "list": _list}[args.action](store, args)
    except StoreError as exc:  # a failed write, or the server refusing it
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 3 if store.damaged and status == 0 else status


def _folder_index(folder: Path) -> dict[str, Path]:
    try:
        return {p.stem: p for p in list_images(folder)}
    except FileNotFoundError:
        return {}


def _import(store: Store, args) -> int:
    src = Path(args.src)
    files = sorted(src.glob("*.json"))
    if not files:
        print(f"error: no labelme .json files in {src}", file=sys.stderr)
        return 1
    beside = _folder_index(store.folder)
    failed = 0
    for jp in files:
        try:
            ann = read_labelme(jp)
        except (LabelmeError, ImageReadError) as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            failed += 1
            continue
        # Key by the folder's own file when it shows the same pixels, so the GUI,
        # which hashes that file, finds the import; else by the embedded bytes.
        match = beside.get(jp.stem)
        if match is not None and _same_pixels(match, ann.image):
            sha, path = sha256_file(match), str(match)
        else:
            sha = hashlib.sha256(ann.image_bytes).hexdigest()
            path = Path(ann.image_path).name or f"{jp.stem}.png"
        frac = _fraction(ann.mask)
        rev = Revision(sha, path, "corrected", args.annotator, mask=ann.mask,
                       fragment_fraction=frac, model_version="imported",
                       extra={"source": str(jp.resolve()), "ignored_shapes": ann.ignored})
        seq = store.append(rev, image=ann.image)
        note = f" (ignored: {', '.join(ann.ignored)})" if ann.ignored else ""
        print(f"imported {jp.name} -> revision {seq}{note}")
    print(f"{len(files) - failed} imported, {failed} skipped into {store.path}")
    # Only a lab server's store can hold saves back (unsent); an HDF5 store's journal_size
    # counts saves already on disk, waiting to be compacted, and it has no status_message.
    unsent = getattr(store, "status_message", None)
    if unsent is not None and unsent():
        print(f"warning: {unsent()}", file=sys.stderr)
    return 1 if failed else 0


def _same_pixels(path: Path, image: np.ndarray) -> bool:
    try:
        return np.array_equal(read_image(path), image)
    except ImageReadError:
        return False


def _fraction(mask: np.ndarray) -> float | None:
    frag = int((mask == 2).sum())
    total = frag + int((mask == 1).sum())
    return frag / total if total else None


def _export(store: Store, args) -> int:
    dst = Path(args.dst)
    (dst / "masks").mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    n = withdrawn = 0
    for sha in store.shas():
        rev = store.current(sha)
        if rev.status == WITHDRAWN:  # the user took the correction back: the model's mask, no label
            withdrawn += 1
            continue
        stem = Path(rev.path).stem
        if stem in used:  # same name in two sub-folders
            stem = f"{stem}-{sha[:8]}"
        used.add(stem)
        try:
            image = store.image(sha)
        except KeyError:
            print(f"skipped {rev.path}: no pixels stored", file=sys.stderr)
            continue
        label = rev.label_mask
        info = {k: getattr(rev, k) for k in ("sha256", "path", "status", "grade", "scheme",
                                              "grade_reason", "reason_text", "annotator",
                                              "time_utc", "model_version", "seq")}
        if label is None:  # grade-only: the JSON carries the grade, no polygons, no mask
            label = np.zeros(image.shape[:2], np.uint8)
        else:
            write_png(dst / "masks" / f"{stem}.png", label)
        write_labelme(dst / f"{stem}.json", label, image, Path(rev.path).name,
                      other={"embryograde": info})
        n += 1
    print(f"{n} sample(s) exported to {dst}" + (f"; {withdrawn} withdrawn correction(s) skipped"
                                                 if withdrawn else ""))
    return 0


def _list(store: Store, args) -> int:
    revs = store.current_all(masks=False)
    print("path\tstatus\tgrade\tannotator\ttime_utc\trevisions")
    for sha, rev in revs.items():
        grade = f"{rev.grade} ({rev.scheme})" if rev.grade else "-"
        print(f"{rev.path}\t{rev.status}\t{grade}\t{rev.annotator}\t{rev.time_utc}\t"
              f"{store.revision_count(sha)}")
    print(f"{len(revs)} sample(s)", file=sys.stderr)
    return 0
