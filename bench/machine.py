"""Describe the machine a benchmark ran on (printed at the top of every bench)."""

from __future__ import annotations

import os
import platform


def describe() -> str:
    parts = [
        f"platform: {platform.platform()}",
        f"python: {platform.python_version()}",
        f"cpu: {_cpu_name()} ({os.cpu_count()} logical cores)",
    ]
    try:
        import torch

        parts.append(f"torch: {torch.__version__}, threads {torch.get_num_threads()}")
        if torch.cuda.is_available():
            parts.append(f"cuda: {torch.cuda.get_device_name(0)}")
    except ImportError:
        pass
    return "\n".join(parts)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
