"""The two microscope looks: illumination, edge contrast, optics, text, colour.

- time-lapse incubator frames: a culture well whose rim glows as a bright
  crescent, dark beyond the well, strong vignetting, burnt-in "Well N" and
  "NN.N h" labels on white boxes; edges read as dark line + bright halo
  (bright field, slightly defocused: contrast ~ Laplacian of optical height).
- inverted microscope with Hoffman modulation / DIC: even gray field, no rim,
  one-sided relief (contrast ~ directional derivative of optical height), a
  colour tint and JPEG compression.
"""

from __future__ import annotations

import cv2
import numpy as np

from model.synth import texture


def timelapse_illumination(rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict]:
    # Everything here is smooth, so it is drawn at 1/4 resolution and resized up.
    k = 4
    n = -(-size // k)
    wx = size / 2 + rng.normal(0, 0.07) * size
    wy = size / 2 + rng.normal(0, 0.05) * size
    rw = rng.uniform(0.44, 0.56) * size
    dist = texture.radial_distance((n, n), wx / k, wy / k, ry=rng.uniform(0.95, 1.05)) * k
    theta = texture.angle_map((n, n), wx / k, wy / k)
    lit = rng.uniform(0, 2 * np.pi)  # the side the light comes from
    side = 0.5 + 0.5 * np.cos(theta - lit)  # 1 on the lit side, 0 opposite
    inside_level = rng.uniform(0.62, 0.78)
    r = dist / rw
    # Inside: flat medium, sinking into darkness on the side away from the light.
    edge = np.clip((r - rng.uniform(0.7, 0.85)) / 0.2, 0, 1)
    dark_far = rng.uniform(0.5, 1.0)
    illum = inside_level * (1 - dark_far * edge * (1 - side) ** 1.5)
    # The rim: a bright crescent just inside the well's wall, strongest on the lit side.
    r_rim = rng.uniform(0.88, 0.97)
    width = rng.uniform(0.025, 0.06)
    rim = np.exp(-(((r - r_rim) / width) ** 2)) * side ** rng.uniform(0.8, 2.0)
    illum += rng.uniform(0.4, 0.9) * rim
    # Beyond the wall: dim on the lit side, black elsewhere, with a soft edge.
    outside = np.clip((r - 1.0) * rw / (6 * k) + 0.5, 0, 1)
    out_level = rng.uniform(0.0, 0.55) * side**2 + rng.uniform(0, 0.04)
    streak = 1 + 0.08 * texture.smooth_noise(rng, (n, n), 1.5)
    illum = illum * (1 - outside) + outside * out_level * streak
    illum *= 1 + rng.uniform(0.02, 0.06) * texture.low_frequency(rng, (n, n), 3)
    # Out-of-focus particles in the medium: soft dark smudges.
    spots = np.zeros((n, n), np.float32)
    for _ in range(int(rng.integers(0, 6))):
        cx, cy = rng.uniform(0, n, 2)
        cv2.circle(spots, (int(cx), int(cy)), int(rng.integers(1, 4)), float(rng.uniform(0.3, 1)), -1)
    if spots.any():
        illum *= 1 - rng.uniform(0.05, 0.2) * cv2.GaussianBlur(spots, (0, 0), 1.5)
    # Vignetting of the whole frame.
    vig = texture.radial_distance((n, n), n / 2, n / 2) / (0.75 * n)
    illum *= 1 - rng.uniform(0.0, 0.25) * vig**2
    illum = cv2.resize(illum.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    return illum, {"well_centre": (float(wx), float(wy)), "well_radius": float(rw)}


def inverted_illumination(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    level = rng.uniform(0.45, 0.75)
    hs, ws = -(-h // 4), -(-w // 4)
    y = np.linspace(-0.5, 0.5, hs, dtype=np.float32)[:, None]
    x = np.linspace(-0.5, 0.5, ws, dtype=np.float32)[None, :]
    gx, gy = rng.normal(0, 0.08, 2)
    illum = level * (1 + gx * x + gy * y)
    illum = illum * (1 + rng.uniform(0.01, 0.04) * texture.low_frequency(rng, (hs, ws), 3))
    vig = (x**2 + y**2) * 2
    illum = (illum * (1 - rng.uniform(0.0, 0.15) * vig)).astype(np.float32)
    return cv2.resize(illum, (w, h), interpolation=cv2.INTER_LINEAR)


_SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32) * 0.125
_LAPLACE = np.array([[2, 0, 2], [0, -8, 0], [2, 0, 2]], np.float32)  # cv2.Laplacian, ksize=3


def edge_contrast(
    T: np.ndarray, H: np.ndarray, box: tuple[int, int, int, int], sigma: float,
    relief: float, angle: float, laplace: float,
) -> None:
    """Add relief (one-sided) and defocus halo (two-sided) of height H to T (or T - 1), in place, in box.

    Both are linear filters of the blurred height, so they are folded into
    one 3x3 kernel: one pass instead of two Sobels, a Laplacian and their sum.
    """
    x0, y0, x1, y1 = box
    hb = cv2.GaussianBlur(H[y0:y1, x0:x1], (0, 0), sigma)
    k = (relief * sigma) * (np.cos(angle) * _SOBEL_X + np.sin(angle) * _SOBEL_X.T)
    k -= (laplace * sigma**2) * _LAPLACE
    T[y0:y1, x0:x1] += cv2.filter2D(hb, cv2.CV_32F, k.astype(np.float32))


def optics(rng: np.random.Generator, img: np.ndarray, scale: float, blur_max: float) -> np.ndarray:
    """Defocus, contrast/gamma, sensor noise; float in, uint8 out.

    Contrast and gamma run on uint8 through a lookup table and the noise is
    raw random bytes: the whole frame passes through here, and float
    temporaries at 1280x960 would cost more than the embryo itself.
    """
    sigma = rng.uniform(0.0, blur_max) * scale
    lo, hi = rng.uniform(-0.06, 0.04), rng.uniform(0.9, 1.15)
    gamma = rng.uniform(0.75, 1.3)
    # 8-bit first (saturating), then one table does contrast and gamma together.
    # The defocus blur runs on the 8-bit frame: ~3x cheaper than on floats, and
    # the half-level rounding is far below the sensor noise added next.
    u8 = cv2.convertScaleAbs(img, alpha=255.0)
    if sigma > 0.35:
        u8 = cv2.GaussianBlur(u8, (0, 0), sigma)
    x = np.clip((np.arange(256) / 255.0 - lo) / (hi - lo), 0, 1) ** gamma
    u8 = cv2.LUT(u8, np.rint(x * 255).astype(np.uint8))
    # Uniform noise from raw bytes (mean 127.5, std 73.9), blurred half the time
    # to look like demosaiced/compressed camera noise. Both operands 8-bit and
    # a saturating 8-bit result: one SIMD pass, no 16-bit temporaries.
    sd = rng.uniform(1.0, 6.5)
    n = np.frombuffer(rng.bytes(u8.size), np.uint8).reshape(u8.shape)
    if rng.random() < 0.5:
        n = cv2.GaussianBlur(n, (3, 3), 0.7)
        sd *= 1.6
    k = sd / 73.9
    return cv2.addWeighted(u8, 1.0, n, k, -127.5 * k)


def burn_text(rng: np.random.Generator, img: np.ndarray) -> dict:
    """The incubator's labels, black on white boxes, in the bottom corners."""
    h, w = img.shape[:2]
    s = w / 800.0
    well = f"Well {int(rng.integers(1, 17))}"
    hours = f"{rng.uniform(20, 75):.1f} h"
    font = cv2.FONT_HERSHEY_SIMPLEX
    fs = 0.7 * s * rng.uniform(0.92, 1.08)
    th = max(1, int(round(s)))
    pad = max(2, int(round(4 * s)))
    margin = int(round(rng.uniform(6, 10) * s))
    for text, right in ((well, False), (hours, True)):
        (tw, tht), base = cv2.getTextSize(text, font, fs, th)
        x = w - margin - tw - 2 * pad if right else margin
        y1 = h - margin
        y0 = y1 - tht - base - 2 * pad
        cv2.rectangle(img, (x, y0), (x + tw + 2 * pad, y1), 255, -1)
        cv2.putText(img, text, (x + pad, y1 - pad - base + 1), font, fs, 0, th, cv2.LINE_AA)
    return {"well_text": well, "time_text": hours}


def colourise(rng: np.random.Generator, gray: np.ndarray) -> np.ndarray:
    """Slight colour tint of the lamp/filters, and JPEG compression as saved by the camera.

    The tint is uniform, so compressing the gray frame before tinting looks
    the same as compressing in colour, at a third of the cost.
    """
    tint = 1 + rng.normal(0, 0.025, 3) + np.array([0.02, 0.0, -0.02]) * rng.uniform(-1, 2)
    tint /= tint.mean()
    q = int(rng.integers(70, 96))
    ok, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, q])
    if ok:
        gray = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    lut = np.clip(np.arange(256)[:, None] * tint[None, :] + 0.5, 0, 255).astype(np.uint8)
    return cv2.merge([cv2.LUT(gray, lut[:, k].copy()) for k in range(3)])
