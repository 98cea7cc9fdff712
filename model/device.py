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
