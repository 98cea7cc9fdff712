"""Latency and throughput of attnregdeeplab against vanilla deeplabv3plus.

Same backbone, same input, one run; CPU (and CUDA when present), batch 1 and
8. The last line is ``ratio: X.XX`` = attnregdeeplab / deeplabv3plus latency
on the CPU at batch 1 in the default configuration.

    python bench/model_latency.py [--depth 18] [--width 0.5] [--size 384] [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.machine import describe  # noqa: E402
from model.config import ModelConfig, named_config  # noqa: E402
from model.network import AttnRegDeepLab  # noqa: E402


def time_pair(models: dict, x, repeats: int, device: torch.device) -> dict[str, float]:
    """Median seconds per forward pass of each model, measured interleaved.

    Alternating the models pass by pass exposes both to the same background
    load, so their ratio stays meaningful on a busy machine.
    """
    times: dict[str, list[float]] = {k: [] for k in models}
    with torch.inference_mode():
        for i in range(repeats + 2):
            for name, model in models.items():
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                model(x)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                if i >= 2:  # the first passes warm allocators and kernels
                    times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> int:
    d = ModelConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=d.depth)
    ap.add_argument("--width", type=float, default=d.width)
    ap.add_argument("--size", type=int, default=d.input_size)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(describe())
    print(f"config: depth {args.depth}, width {args.width}, input {args.size}x{args.size}, "
          f"median of {args.repeats}\n")
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows, cpu_b1 = [], {}
    for device in devices:
        models = {}
        for name in ("deeplabv3plus", "attnregdeeplab"):
            torch.manual_seed(0)
            cfg = named_config(name, depth=args.depth, width=args.width, input_size=args.size)
            models[name] = AttnRegDeepLab(cfg).eval().to(device)
        for batch in (1, 8):
            x = torch.randn(batch, 1, args.size, args.size, device=device)
            secs = time_pair(models, x, args.repeats if batch == 1 else max(3, args.repeats // 3), device)
            for name, sec in secs.items():
                params = sum(p.numel() for p in models[name].parameters()) / 1e6
                rows.append((device.type, batch, name, params, sec * 1000, batch / sec))
                if device.type == "cpu" and batch == 1:
                    cpu_b1[name] = sec
    print(f"{'device':6} {'batch':>5} {'config':16} {'params M':>8} {'ms/batch':>9} {'img/s':>8}")
    for dev, b, name, p, ms, ips in rows:
        print(f"{dev:6} {b:5d} {name:16} {p:8.2f} {ms:9.1f} {ips:8.2f}")
    print(f"ratio: {cpu_b1['attnregdeeplab'] / cpu_b1['deeplabv3plus']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
