"""Latency and throughput of attnregdeeplab against vanilla deeplabv3plus.

Same backbone, same input, one run; CPU (and CUDA when present), batch 1 and
8. The last line is ``ratio: X.XX`` = attnregdeeplab / deeplabv3plus latency
on the CPU at batch 1 in the default configuration.

    python bench/model_latency.py [--depth 18] [--width 0.5] [--size 384] [--repeats 10]
                                  [--model CKPT] [--no-predictor]

Then the whole predictor path on 800 x 800 frames (coarse pass, crop, the
two mirrored fine views, post-processing at full resolution) with the
bundled model (or --model): ms per frame one at a time and frames/s through
``predict_batch``, fp32 NCHW (baseline) against the precision the predictor
picks on this machine (bf16 + channels_last where the CPU has native bf16).
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
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--no-predictor", action="store_true", help="network only")
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
    if not args.no_predictor:
        predictor_path(args)
    print(f"ratio: {cpu_b1['attnregdeeplab'] / cpu_b1['deeplabv3plus']:.2f}")
    return 0


def predictor_path(args) -> None:
    from app.core.resources import default_model_path
    from model.predictor import Predictor
    from model.synth import generate

    model = args.model or default_model_path()
    frames = [generate(31000 + i, style="timelapse", size=800).image for i in range(8)]
    variants = {"fp32 NCHW": Predictor.from_checkpoint(model, device="cpu", threads=args.threads, precision="fp32"),
                "auto": Predictor.from_checkpoint(model, device="cpu", threads=args.threads, precision="auto")}
    variants["auto"].predict(frames[0])
    label = f"{variants['auto'].precision}{' + channels_last' if variants['auto']._nhwc else ''}"
    single = {k: [] for k in variants}
    for i in range(args.repeats + 1):
        for name, p in variants.items():
            t = time.perf_counter()
            p.predict(frames[i % len(frames)])
            if i:
                single[name].append(time.perf_counter() - t)
    batch = {}
    for name, p in variants.items():
        t = time.perf_counter()
        p.predict_batch(frames)
        batch[name] = len(frames) / (time.perf_counter() - t)
    print(f"\npredictor path, 800x800 frames, model {variants['auto'].version} ({model}):")
    print(f"{'variant':28s} {'ms/frame':>9s} {'frames/s (batch 8)':>19s}")
    for name in variants:
        shown = f"auto: {label}" if name == "auto" else name
        print(f"{shown:28s} {1000 * statistics.median(single[name]):9.1f} {batch[name]:19.2f}")


if __name__ == "__main__":
    sys.exit(main())
