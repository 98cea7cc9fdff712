"""Augmentation of a network-sized crop and its mask together (numpy + cv2).

Applied after the crop is cut and resized (at input_size, so every op is
cheap) and before the per-crop normalisation, so the photometric changes
survive only in the forms normalisation cannot undo (gamma, blur, noise,
local contrast): exactly the nuisances that differ between microscopes.
"""

from __future__ import annotations

import cv2
import numpy as np


def geometric(img: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator,
              max_rot: float = 15.0, scale: tuple[float, float] = (0.92, 1.08),
              shift: float = 0.04) -> tuple[np.ndarray, np.ndarray | None]:
    """Flips, 90-degree turns and a small affine; the mask follows by nearest neighbour."""
    if rng.random() < 0.5:
        img = img[:, ::-1]
        mask = None if mask is None else mask[:, ::-1]
    k = int(rng.integers(4))
    if k:
        img = np.rot90(img, k)
        mask = None if mask is None else np.rot90(mask, k)
    img = np.ascontiguousarray(img)
    mask = None if mask is None else np.ascontiguousarray(mask)
    if rng.random() < 0.7:
        h, w = img.shape
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-max_rot, max_rot)),
                                    float(rng.uniform(*scale)))
        m[:, 2] += rng.uniform(-shift, shift, 2) * (w, h)
        # Replicated borders match how preprocess.crop pads beyond the frame.
        img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if mask is not None:
            mask = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    return img, mask


def photometric(gray01: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Brightness, contrast, gamma, blur and noise on a gray image in [0, 1]."""
    x = gray01.astype(np.float32, copy=True)
    if rng.random() < 0.8:
        gamma = float(np.exp(rng.uniform(-0.35, 0.35) * strength))
        x = np.power(np.clip(x, 0.0, 1.0), gamma)
    if rng.random() < 0.8:
        c = 1.0 + rng.uniform(-0.3, 0.3) * strength
        b = rng.uniform(-0.1, 0.1) * strength
        x = (x - x.mean()) * c + x.mean() + b
    if rng.random() < 0.3:
        sigma = float(rng.uniform(0.3, 1.2) * strength)
        x = cv2.GaussianBlur(x, (0, 0), sigma)
    if rng.random() < 0.4:
        x = x + rng.normal(0.0, rng.uniform(0.005, 0.03) * strength, x.shape).astype(np.float32)
    if rng.random() < 0.2:  # uneven illumination: a smooth ramp across the crop
        h, w = x.shape
        gx, gy = rng.uniform(-0.08, 0.08, 2) * strength
        x = x + (np.linspace(-1, 1, w)[None, :] * gx + np.linspace(-1, 1, h)[:, None] * gy).astype(np.float32)
    return x.astype(np.float32)
