"""Training from the lab server: `train --data postgresql://...` and the fine-tune loop end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.core import finetune as F
from app.core.registry import Registry
from app.core.store_api import open_store
from app.core.store_format import Revision

ROOT = Path(__file__).resolve().parents[2]


def fill_server(url: str, folder: Path, embryos: int = 4, frames: int = 2) -> None:
    """Corrected 64x64 synthetic frames of several embryos plus one grade-only image, saved from
    a workstation whose image folder is then deleted: training must need only the server."""
    import shutil

    from app.core.imaging import sha256_file, write_png
    from model.synth import generate

    folder.mkdir(parents=True, exist_ok=True)
    with open_store(url, folder) as st:
        for e in range(embryos):
            for r in range(frames):
                s = generate(100 + 10 * e + r, size=64)
                p = folder / f"D2024.01.02_S0001_I1_WELL{e + 1}_RUN{r + 1}.png"
                write_png(p, s.image)
                st.append(Revision(sha256_file(p), p.name, "corrected", "x", mask=s.mask, model_mask=s.mask))
        s = generate(900, size=64)
        p = folder / "D2024.01.02_S0001_I1_WELL9_RUN1.png"
        write_png(p, s.image)
        st.append(Revision(sha256_file(p), p.name, "grade-only", "x", grade="2", scheme="istanbul",
                           fragment_fraction=0.2, grade_reason="mask wrong"))
    shutil.rmtree(folder)


def test_train_data_spec_reads_the_server(lab, tmp_path):
    from app.core.datasets import StoreFrames, open_data

    fill_server(lab.url("alice"), tmp_path / "ws1", embryos=2, frames=1)
    frames = open_data(lab.url("bob"))
    assert isinstance(frames, StoreFrames) and len(frames) == 3
    for f in (frames.get(i) for i in range(3)):  # pixels from the server: the folder is gone
        assert f.image.size and (f.mask is None or f.mask.shape == f.image.shape[:2])
    assert sum(frames.get(i).mask is None for i in range(3)) == 1  # the grade-only one
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", "--data", lab.url("bob"), "--out",
                        str(out), "--width", "0.125", "--input-size", "64", "--epochs", "1", "--steps", "1",
                        "--batch-size", "2", "--threads", "1", "--workers", "0", "--device", "cpu",
                        "--val-fraction", "0", "--no-bar"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / "last.pt").is_file()


def test_finetune_loop_trains_from_the_server_end_to_end(lab, tmp_path, tiny_checkpoint):
    fill_server(lab.url("alice"), tmp_path / "ws1")
    reg = Registry(tmp_path / "models", bundled=tiny_checkpoint)
    parent = reg.active_version()
    settings = F.TrainSettings(epochs=1, steps=2, batch_size=2, threads=1, workers=0, device="cpu",
                               tta=False, min_steps_per_epoch=2)
    s = F.FineTuneSession(lab.url("bob"), tmp_path / "run", reg, settings)
    events = []
    cmp_ = F.run_blocking(s, events.append)
    assert [e["event"] for e in events][-1] == "done"
    assert len(s.plan.train) + len(s.plan.val) == 9 and cmp_.candidate["n_images"] > 0
    assert F.validation_file(lab.url("bob")).is_file()  # the fixed validation embryos, per server
    e = reg.get(s.candidate_version)
    assert e.status == "candidate" and e.parent == parent
    assert e.trained_on["store"].startswith("postgresql://bob@")


def test_unreachable_server_is_one_clear_line(tmp_path):
    from tests.pg_cluster import free_port

    url = f"postgresql://nobody@127.0.0.1:{free_port()}/lab"
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "annotations", "list", "--store", url],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "cannot connect to the lab server" in r.stderr
    assert "Traceback" not in r.stderr
    with pytest.raises(Exception, match="cannot connect"):
        open_store(url, tmp_path, readonly=True)
