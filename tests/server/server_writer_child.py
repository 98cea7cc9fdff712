"""A workstation process for the lab-server tests: appends revisions and prints each committed one.

    python server_writer_child.py URL FOLDER N TAG SHA... [--hold]

Prints ``<uuid> <seq>`` after each commit. With --hold it then opens one more
transaction, inserts a revision, prints ``IN-TX <uuid>`` and waits to be killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from app.core.server_journal import Pending  # noqa: E402
from app.core.store_api import open_store  # noqa: E402
from app.core.store_format import Revision, new_uuid  # noqa: E402


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--hold"]
    url, folder, n, tag, shas = args[0], args[1], int(args[2]), args[3], args[4:]
    store = open_store(url, folder)
    mask = np.zeros((16, 16), np.uint8)
    for i in range(n):
        sha = shas[i % len(shas)]
        rev = Revision(sha, f"{sha[:8]}.png", "reviewed", tag, model_mask=mask, uuid=new_uuid(),
                       extra={"writer": tag, "i": i})
        seq = store.append(rev)
        assert seq > 0, store.status_message()
        print(rev.uuid, seq, flush=True)
    if "--hold" in sys.argv:
        rev = Revision(shas[0], f"{shas[0][:8]}.png", "reviewed", tag, model_mask=mask, uuid=new_uuid())
        item = Pending(rev, None, {"workstation": "w", "path": "/x", "size_bytes": None}, None)
        conn = store._conn
        with conn.transaction():  # never committed: the test kills this process inside it
            store._send(item)
            print("IN-TX", rev.uuid, flush=True)
            time.sleep(300)


if __name__ == "__main__":
    main()
