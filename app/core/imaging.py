"""Reading embryo images from disk, Qt-free.

Images come back as numpy arrays in their own bit depth (uint8 or uint16),
gray ``HxW`` or RGB ``HxWx3`` (alpha dropped, BGR turned into RGB). Files are
read as bytes and decoded with ``cv2.imdecode`` so that non-ASCII paths work
on every platform and a file deleted between listing and reading gives a
clear ``ImageReadError`` instead of a ``None`` deep inside the model.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np

from app.core.image_header import HeaderError, check_size

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


class ImageReadError(Exception):
    """An image that cannot be read; the message names the file and the fault."""


def is_image_path(path: str | os.PathLike) -> bool:
    name = os.fspath(path)
    base = os.path.basename(name)
    return not base.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Image files of a folder, sorted by name (natural order of time-lapse runs).

    Hidden files and the project's own ``.embryograde`` data are skipped.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    out: list[Path] = []
    if recursive:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            out.extend(Path(dirpath) / f for f in filenames if is_image_path(f))
    else:
        with os.scandir(root) as it:
            out = [Path(e.path) for e in it if e.is_file() and is_image_path(e.name)]
    return sorted(out, key=lambda p: _natural_key(str(p.relative_to(root))))


def _natural_key(text: str) -> list:
    import re

    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def read_image(path: str | os.PathLike, page: int = 0) -> np.ndarray:
    """Read one image (one page of a multi-page TIFF) as uint8/uint16, gray or RGB."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ImageReadError(f"{p}: file not found (moved or deleted?)") from None
    except OSError as exc:
        raise ImageReadError(f"{p}: cannot read file ({exc.strerror or exc})") from None
    return decode_image(data, name=str(p), page=page)


def decode_image(data: bytes, name: str = "<bytes>", page: int = 0) -> np.ndarray:
    if not data:
        raise ImageReadError(f"{name}: file is empty")
    try:
        check_size(data)  # before the decoder tries to allocate what a hostile header claims
    except HeaderError as exc:
        raise ImageReadError(f"{name}: {exc}") from None
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        img = _decode(buf, name, page)
    except (cv2.error, MemoryError) as exc:  # the decoder's own refusal, in one line
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ImageReadError(f"{name}: not a readable image ({first[:160]})") from None
    if img is None:
        raise ImageReadError(f"{name}: not a readable image (corrupt or unsupported format)")
    return normalise_layout(img, name)


def _decode(buf: np.ndarray, name: str, page: int) -> np.ndarray | None:
    if page > 0 or name.lower().endswith((".tif", ".tiff")):
        ok, pages = cv2.imdecodemulti(buf, cv2.IMREAD_UNCHANGED)
        if ok and pages:
            if page >= len(pages):
                raise ImageReadError(f"{name}: has {len(pages)} page(s), page {page} asked")
            return pages[page]
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def normalise_layout(img: np.ndarray, name: str = "<array>") -> np.ndarray:
    """Bring a decoded array to uint8/uint16 gray or RGB."""
    if img.dtype not in (np.uint8, np.uint16):
        if img.dtype in (np.float32, np.float64):
            lo, hi = float(np.nanmin(img)), float(np.nanmax(img))
            scale = 65535.0 / (hi - lo) if hi > lo else 0.0
            img = ((img - lo) * scale).astype(np.uint16)
        elif img.dtype == np.int16 or img.dtype == np.int32 or img.dtype == np.uint32:
            img = np.clip(img, 0, 65535).astype(np.uint16)
        else:
            raise ImageReadError(f"{name}: unsupported pixel type {img.dtype}")
    if img.ndim == 3:
        if img.shape[2] == 1:
            img = img[:, :, 0]
        elif img.shape[2] == 4:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
        elif img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        else:
            raise ImageReadError(f"{name}: unsupported channel count {img.shape[2]}")
        if img.ndim == 3 and _is_gray_rgb(img):
            img = np.ascontiguousarray(img[:, :, 0])
    if img.ndim != 2 and img.ndim != 3:
        raise ImageReadError(f"{name}: unsupported image shape {img.shape}")
    if min(img.shape[:2]) < 16:
        raise ImageReadError(f"{name}: image too small ({img.shape[1]}x{img.shape[0]})")
    return np.ascontiguousarray(img)


def _is_gray_rgb(img: np.ndarray) -> bool:
    # Time-lapse JPEGs are often saved as 3 identical channels; treat them as gray.
    step = max(1, img.shape[0] // 64)
    sub = img[::step, ::step]
    return bool(np.array_equal(sub[..., 0], sub[..., 1]) and np.array_equal(sub[..., 0], sub[..., 2]))


def to_gray_float(img: np.ndarray) -> np.ndarray:
    """Gray float32 in [0, 1] whatever the input's depth and channels."""
    scale = 65535.0 if img.dtype == np.uint16 else 255.0 if img.dtype == np.uint8 else 1.0
    x = img.astype(np.float32) / scale
    if x.ndim == 3:
        x = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return x


def write_png(path: str | os.PathLike, img: np.ndarray) -> None:
    """Write a PNG (uint8/uint16, gray or RGB) with a non-ASCII-safe path."""
    arr = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", arr)
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    Path(path).write_bytes(buf.tobytes())


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def sha256_array(img: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str((img.dtype.str, img.shape)).encode())
    h.update(np.ascontiguousarray(img).tobytes())
    return h.hexdigest()
