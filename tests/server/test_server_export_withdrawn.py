"""`main.py annotations export` skips images whose current revision is 'withdrawn' (the user undid
the correction back to the model's mask), for the folder's HDF5 file and for the lab server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.core.store_api import open_store
from app.core.store_format import Revision

ROOT = Path(__file__).resolve().parents[2]


def _folder(folder: Path) -> dict[str, str]:
    from app.core.imaging import sha256_file, write_png

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, name in enumerate(("kept.png", "undone.png", "redone.png")):
        write_png(folder / name, np.full((16, 20), 40 * (i + 1), np.uint8))
        out[name] = sha256_file(folder / name)
    return out


@pytest.mark.parametrize("kind", ["hdf5", "server"])
def test_export_skips_withdrawn_revisions(kind, request, tmp_path):
    folder = tmp_path / "images"
    shas = _folder(folder)
    spec = str(folder / "annotations.h5") if kind == "hdf5" else request.getfixturevalue("lab").url("alice")
    mask = np.zeros((16, 20), np.uint8)
    mask[4:12, 4:12] = 1
    mask[5:7, 5:7] = 2
    with open_store(spec, folder) as st:
        for name, sha in shas.items():
            st.append(Revision(sha, name, "corrected", "alice", mask=mask, model_mask=mask))
        st.append(Revision(shas["undone.png"], "undone.png", "withdrawn", "alice"))
        # withdrawn, then corrected again: the current revision is a label again
        st.append(Revision(shas["redone.png"], "redone.png", "withdrawn", "alice"))
        st.append(Revision(shas["redone.png"], "redone.png", "corrected", "alice", mask=mask, model_mask=mask))
    dst = tmp_path / "out"
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "annotations", "export", "--store", spec,
                        "--to", str(dst)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "2 sample(s) exported" in r.stdout and "1 withdrawn correction(s) skipped" in r.stdout
    assert sorted(p.name for p in dst.glob("*.json")) == ["kept.json", "redone.json"]
    assert sorted(p.name for p in (dst / "masks").glob("*.png")) == ["kept.png", "redone.png"]
    info = json.loads((dst / "redone.json").read_text())["embryograde"]
    assert info["status"] == "corrected"
