"""The lab server's PostgreSQL store against the folder's HDF5 store, on this machine.

    .venv/bin/python bench/store_server.py [--n 400] [--folder 1000] [--size 256]

Starts a throwaway PostgreSQL cluster (tests/pg_cluster.py, fsync on) and
prints the machine and: revisions per second from 1 and 4 concurrent writers
(800x800 corrected + model masks of already stored images, each save durable
on return), and the time to open a folder of ``--folder`` images with their
current revisions (index and masks; ``--size`` square images). The HDF5 store
takes one writer per store, so its 4-writer line says so.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.store import AnnotationStore  # noqa: E402
from app.core.store_api import open_store  # noqa: E402
from app.core.store_format import Revision  # noqa: E402
from bench.machine import describe  # noqa: E402


def masks(side: int, i: int) -> tuple[np.ndarray, np.ndarray]:
    m = np.zeros((side, side), np.uint8)
    cv2.circle(m, (side // 2, side // 2), side // 5 + i % 50, 1, -1)
    cv2.circle(m, (side * 3 // 5, side // 2), side // 40 + i % 15, 2, -1)
    return m, (m > 0).astype(np.uint8)


def seed(store, n: int, side: int, prefix: str) -> list[str]:
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.normal(128, 30, (side, side)).clip(0, 255).astype(np.uint8), (5, 5), 0)
    shas = []
    for i in range(n):
        img = base.copy()
        img.flat[:4] = np.frombuffer(i.to_bytes(4, "little"), np.uint8)  # distinct pixels
        sha = hashlib.sha256(img.tobytes()).hexdigest()
        m, mm = masks(side, i)
        store.append(Revision(sha, f"{prefix}{i:05d}.png", "corrected", "bench", mask=m, model_mask=mm),
                     image=img)
        shas.append(sha)
    return shas


def write(store, shas: list[str], n: int, tag: str) -> None:
    m, mm = masks(800, 7)
    for i in range(n):
        store.append(Revision(shas[i % len(shas)], f"img{i % len(shas):05d}.png", "corrected", tag,
                              mask=m, model_mask=mm, extra={"i": i}))


def writer_child(url: str, folder: str, n: int, start_at: float, shas: list[str]) -> None:
    with open_store(url, folder) as st:
        time.sleep(max(0.0, start_at - time.time()))
        write(st, shas, n, "child")
        print(time.time(), flush=True)


def rate_server(url: str, folder: Path, shas: list[str], n: int, writers: int) -> float:
    if writers == 1:
        with open_store(url, folder) as st:
            t0 = time.perf_counter()
            write(st, shas, n, "w1")
            return n / (time.perf_counter() - t0)
    start_at = time.time() + 4.0  # after every child has imported and connected
    procs = [subprocess.Popen([sys.executable, __file__, "--writer", url, str(folder), str(n // writers),
                               str(start_at), *shas], stdout=subprocess.PIPE, text=True)
             for _ in range(writers)]
    ends = [float(p.communicate()[0].split()[-1]) for p in procs]
    return (n // writers) * writers / (max(ends) - start_at)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400, help="revisions per rate measurement")
    ap.add_argument("--folder", type=int, default=1000, help="images in the folder-open measurement")
    ap.add_argument("--size", type=int, default=256, help="image side in the folder-open measurement")
    ap.add_argument("--writer", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.writer:
        url, folder, n, start_at, *shas = args.writer
        writer_child(url, folder, int(n), float(start_at), shas)
        return 0
    from tests.pg_cluster import make_lab, start_cluster

    print(f"machine: {describe()}")
    cluster = start_cluster(durable=True)
    try:
        cluster.wait_ready()
        make_lab(cluster, "bench", {"bench": "annotator"})
        url = cluster.url("bench", "bench")
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            with open_store(url, tmp / "w", journal_dir=tmp / "j") as st:
                shas = seed(st, 20, 800, "img")
            for w in (1, 4):
                print(f"PostgreSQL, {w} writer(s): {rate_server(url, tmp / 'w', shas, args.n, w):7.1f} revisions/s")
            with AnnotationStore(tmp / "h5" / "annotations.h5", compact_every=0) as h5:
                hshas = seed(h5, 20, 800, "img")
                t0 = time.perf_counter()
                write(h5, hshas, args.n, "w1")
                print(f"HDF5,       1 writer:  {args.n / (time.perf_counter() - t0):7.1f} revisions/s")
            print("HDF5,       4 writers: n/a (one writer per store: a second gets StoreLockedError)")

            folder = tmp / "folder"
            with open_store(url, folder, journal_dir=tmp / "j") as st:
                fshas = seed(st, args.folder, args.size, "")
            with AnnotationStore(folder / "h5" / "annotations.h5", folder, compact_every=0) as h5:
                seed(h5, args.folder, args.size, "")
            for name, opener in (("PostgreSQL", lambda: open_store(url, folder, readonly=True)),
                                 ("HDF5", lambda: AnnotationStore(folder / "h5" / "annotations.h5", folder,
                                                                  readonly=True))):
                t0 = time.perf_counter()
                with opener() as st:
                    got = sum(st.current(sha).mask is not None for sha in fshas)
                print(f"{name:10s} open a folder of {got} images ({args.size}x{args.size}) with current "
                      f"revisions and masks: {(time.perf_counter() - t0) * 1000:7.0f} ms")
    finally:
        cluster.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
