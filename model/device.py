"""Choosing the compute device and capping CPU threads."""

from __future__ import annotations

import os

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def available_devices() -> list[str]:
    out = ["cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out.append("mps")
    return out


def resolve_device(choice: str = "auto") -> torch.device:
    """auto picks CUDA, then MPS, then CPU; an explicit choice is honoured or refused."""
    choice = (choice or "auto").lower()
    if choice not in DEVICE_CHOICES and not choice.startswith("cuda:"):
        raise ValueError(f"unknown device {choice!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    avail = available_devices()
    if choice == "auto":
        for d in ("cuda", "mps", "cpu"):
            if d in avail:
                return torch.device(d)
    base = choice.split(":")[0]
    if base not in avail:
        raise RuntimeError(f"device {choice!r} is not available on this machine (available: {', '.join(avail)})")
    return torch.device(choice)


def default_cpu_threads() -> int:
    # Leave one core to the GUI and the OS: a model that takes every core
    # makes the window stutter while it grades.
    return max(1, (os.cpu_count() or 2) - 1)


def cap_cpu_threads(threads: int | None) -> int:
    n = default_cpu_threads() if threads is None else max(1, int(threads))
    torch.set_num_threads(n)
    return n


PRECISIONS = ("auto", "fp32", "bf16")


def cpu_has_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read(1 << 16)
    except OSError:  # not Linux: oneDNN's own check, which is conservative
        return bool(getattr(torch.backends.mkldnn, "is_available", lambda: False)()) and \
            torch.backends.cpu.get_cpu_capability() in ("AVX512_BF16", "AMX")
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(choice: str, device: torch.device) -> str:
    """"auto": bf16 where the device computes it natively (CUDA Ampere+, CPU with AVX512-BF16), else fp32."""
    choice = (choice or "auto").lower()
    if choice not in PRECISIONS:
        raise ValueError(f"unknown precision {choice!r}; choose one of {', '.join(PRECISIONS)}")
    if choice != "auto":
        return choice
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_bf16() else "fp32"
    return "fp32"  # MPS: bf16 autocast is partial there


def autocast(device: torch.device, precision: str):
    """The autocast context for a precision (a no-op context for fp32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def use_channels_last(device: torch.device) -> bool:
    # oneDNN's convolutions are fastest in NHWC on the CPU (measured: 101 -> 83 ms for the
    # predictor's three passes, 49 ms with bf16); CUDA with cuDNN gains as well under autocast.
    return device.type in ("cpu", "cuda")
