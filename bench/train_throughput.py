"""Training throughput: samples/s of one optimisation step (forward, losses, backward, AdamW) per named config.

    python bench/train_throughput.py [--size 256] [--width 0.375] [--depth 18] [--batch 8]
                                     [--steps 3] [--threads N] [--device cpu|cuda|all]
                                     [--precisions] [--config attnregdeeplab]

--precisions times the one config four ways on each device, the fp32 NCHW
step as the baseline of the same run: fp32, channels_last, bf16 autocast,
and both (what the trainer uses where the CPU has native bf16).

Synthetic tensors, no data loading (the data pipeline runs in loader
workers, see docs/training.md). The first step of each config is a warm-up
and not timed. Load on a shared machine moves these numbers: the load
average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.machine import describe  # noqa: E402
from model.config import NAMED_CONFIGS, named_config  # noqa: E402
from model.network import AttnRegDeepLab  # noqa: E402
from model.training.losses import LossWeights, total_loss  # noqa: E402


def step_rate(name: str, args, device: torch.device, nhwc: bool = False, bf16: bool = False) -> float:
    torch.manual_seed(0)
    cfg = named_config(name, depth=args.depth, width=args.width, input_size=args.size)
    model = AttnRegDeepLab(cfg).to(device).train()
    if nhwc:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    b, s = args.batch, args.size
    batch = {
        "image": torch.randn(b, 1, s, s, device=device).contiguous(
            memory_format=torch.channels_last if nhwc else torch.contiguous_format),
        "mask": torch.randint(0, 3, (b, s, s), device=device),
        "fraction": torch.rand(b, device=device) * 0.4,
        "interval": torch.full((b, 2), float("nan"), device=device),
    }
    times = []
    for i in range(args.steps + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(batch["image"])
        loss, _ = total_loss(out, batch, LossWeights())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t)
    return b / (sum(times) / len(times))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--width", type=float, default=0.375)
    p.add_argument("--depth", type=int, default=18)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int)
    p.add_argument("--device", default="all", choices=("cpu", "cuda", "all"))
    p.add_argument("--precisions", action="store_true", help="fp32 / channels_last / bf16 / both, one config")
    p.add_argument("--config", default="attnregdeeplab", choices=sorted(NAMED_CONFIGS))
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(describe())
    if hasattr(os, "getloadavg"):
        print("load average: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    devices = ["cpu"] if args.device == "cpu" else ["cuda"] if args.device == "cuda" else ["cpu"]
    if args.device == "all" and torch.cuda.is_available():
        devices.append("cuda")
    print(f"depth {args.depth}, width {args.width}, input {args.size}, batch {args.batch}, {args.steps} timed steps")
    if args.precisions:
        from model.device import cpu_has_bf16

        print(f"CPU native bf16: {cpu_has_bf16()}; config {args.config}")
        print(f"{'variant':22s} " + " ".join(f"{d + ' samples/s':>18s} {'x fp32':>7s}" for d in devices))
        base = {}
        for label, nhwc, bf16 in (("fp32 NCHW (baseline)", False, False), ("fp32 channels_last", True, False),
                                  ("bf16 autocast NCHW", False, True), ("bf16 + channels_last", True, True)):
            cells = []
            for d in devices:
                r = step_rate(args.config, args, torch.device(d), nhwc, bf16)
                base.setdefault(d, r)
                cells.append(f"{r:18.2f} {r / base[d]:7.2f}")
            print(f"{label:22s} " + " ".join(cells), flush=True)
        return 0
    print(f"{'config':16s} " + " ".join(f"{d + ' samples/s':>18s}" for d in devices))
    for name in NAMED_CONFIGS:
        rates = [step_rate(name, args, torch.device(d)) for d in devices]
        print(f"{name:16s} " + " ".join(f"{r:18.2f}" for r in rates), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
