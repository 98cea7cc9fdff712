"""DistributedDataParallel on CPU: two gloo processes train a few steps and agree on the weights."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import hashlib, sys, torch
torch.set_num_threads(1)
from app.core.datasets import SyntheticFrames
from model.config import named_config
from model.network import AttnRegDeepLab
from model.training.trainer import Trainer, TrainOptions
from model.training import distributed as D

out = sys.argv[1]
torch.manual_seed(0)  # the same initial weights on every rank, as torchrun users rely on DDP's broadcast anyway
model = AttnRegDeepLab(named_config("attnregdeeplab", depth=18, width=0.125, input_size=64))
opts = TrainOptions(out=out, mode="end-to-end", epochs=2, steps_per_epoch=2, batch_size=2,
                    workers=0, progress_bar=False, seed=0)
tr = Trainer(model, SyntheticFrames(8, 0, size=160), None, opts, torch.device("cpu"))
tr.run()
h = hashlib.sha256()
for k, v in sorted(model.state_dict().items()):
    h.update(k.encode()); h.update(v.detach().cpu().contiguous().numpy().tobytes())
open(f"{out}/hash{tr.info.rank}.txt", "w").write(h.hexdigest() + f" {tr.step}")
D.cleanup()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=port, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path)], cwd=ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(logs)
    h0 = (tmp_path / "hash0.txt").read_text().split()
    h1 = (tmp_path / "hash1.txt").read_text().split()
    assert h0 == h1 and h0[1] == "4"  # same weights after 2 epochs x 2 steps
    # only rank 0 wrote the run's files
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "metrics.csv").is_file()
