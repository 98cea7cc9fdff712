"""Helper process for tests/test_store_crash.py: saves revisions until it is killed.

Usage: store_writer_child.py STORE_PATH PREFIX COUNT COMPACT_EVERY
Prints ``saved <uuid>`` (flushed) after each ``append`` returns, so the parent
knows which saves were promised durable when it sends SIGKILL.
"""

from __future__ import annotations

import hashlib
import sys
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.store import AnnotationStore, Revision  # noqa: E402


def main() -> int:
    path, prefix, count, compact_every = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = AnnotationStore(path, compact_every=compact_every)
    rng = np.random.default_rng(abs(hash(prefix)) % 2**32)
    for i in range(count):
        # A few images get many revisions (history), most get one.
        key = f"{prefix}-{i}" if i % 3 else f"shared-{i % 4}"
        sha = hashlib.sha256(key.encode()).hexdigest()
        image = rng.integers(0, 255, (64, 64), dtype=np.uint8)
        mask = np.zeros((64, 64), np.uint8)
        mask[8:40, 8:40] = 1
        mask[10 : 10 + i % 20, 10:14] = 2
        rid = uuid.uuid4().hex
        store.append(Revision(sha, f"{key}_RUN1.png", "corrected", "child", mask=mask,
                              model_mask=mask, uuid=rid), image=image)
        print(f"saved {rid}", flush=True)
    store.close()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
