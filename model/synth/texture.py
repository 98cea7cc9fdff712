"""Noise fields for cytoplasm granules, zona texture and uneven illumination.

Every field comes from the caller's ``np.random.Generator`` so a sample is
reproducible from its seed alone. Wide fields are made at low resolution and
resized up: a Gaussian blur of a full-size frame with a large sigma would
cost more than the whole image budget (20 images/s on one core).
"""

from __future__ import annotations

import cv2
import numpy as np


def _normalise(f: np.ndarray) -> np.ndarray:
    # A strided subsample estimates the spread well enough and is ~16x cheaper.
    sub = f[::4, ::4]
    f -= float(sub.mean())
    f *= 1.0 / max(float(sub.std()), 1e-6)
    return f


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-filtered white noise with feature size ~sigma px."""
    h, w = shape
    step = max(1, int(sigma / 1.5))
    hs, ws = max(2, -(-h // step)), max(2, -(-w // step))
    # Uniform draws are ~4x cheaper than normal ones, and raw bytes ~3x cheaper
    # than uniform floats; after the blur the 256 levels are continuous anyway.
    f = np.frombuffer(rng.bytes(hs * ws), np.uint8).reshape(hs, ws).astype(np.float32)
    s = sigma / step
    if s > 0.3:
        f = cv2.GaussianBlur(f, (0, 0), s, borderType=cv2.BORDER_REFLECT)
    if step > 1:
        f = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
    return _normalise(f)


def granular(
    rng: np.random.Generator, shape: tuple[int, int], fine: float, coarse: float, mix: float
) -> np.ndarray:
    """Cytoplasm-like granules: fine speckle over a coarser mottle, unit std."""
    f = smooth_noise(rng, shape, fine)
    if mix > 0:
        f += mix * smooth_noise(rng, shape, coarse)
    return _normalise(f)


def low_frequency(rng: np.random.Generator, shape: tuple[int, int], cells: int = 3) -> np.ndarray:
    """A very smooth field (a few bumps across the frame), unit std."""
    h, w = shape
    g = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    f = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    return _normalise(f)


def radial_distance(shape: tuple[int, int], cx: float, cy: float, ry: float = 1.0) -> np.ndarray:
    """Distance of every pixel to (cx, cy); ry != 1 squeezes it into an ellipse."""
    h, w = shape
    y = (np.arange(h, dtype=np.float32) - cy)[:, None] * (1.0 / ry)
    x = (np.arange(w, dtype=np.float32) - cx)[None, :]
    return cv2.magnitude(np.broadcast_to(x, (h, w)).copy(), np.broadcast_to(y, (h, w)).copy())


def angle_map(shape: tuple[int, int], cx: float, cy: float) -> np.ndarray:
    h, w = shape
    y = (np.arange(h, dtype=np.float32) - cy)[:, None]
    x = (np.arange(w, dtype=np.float32) - cx)[None, :]
    return cv2.phase(np.broadcast_to(x, (h, w)).copy(), np.broadcast_to(y, (h, w)).copy())
