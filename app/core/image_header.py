"""The pixel size an image file claims, read from its header before anything is decoded. Qt-free.

A PNG whose header claims 100,000 x 100,000 pixels makes OpenCV try to
allocate tens of gigabytes and abort with a C++ exception; a TIFF can claim
the same in any of its pages. Reading the few header bytes first lets the
reader refuse such a file with one clear line, and the batch go on.
Formats not recognised here are left to the decoder.
"""

from __future__ import annotations

import struct

# 4096 x 4096 frames are the largest expected; 10,000 x 10,000 leaves room for stitched wells.
MAX_PIXELS = 100_000_000
MAX_TIFF_PAGES = 4096


class HeaderError(ValueError):
    """The header is damaged or claims an impossible size; the message says which."""


def claimed_sizes(data: bytes) -> list[tuple[int, int]]:
    """(width, height) of every image the header declares ([] for a format not known here)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return [_png(data)]
    if data[:2] == b"\xff\xd8":
        return [_jpeg(data)]
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff(data)
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return [(abs(w), abs(h))]
    return []


def check_size(data: bytes, max_pixels: int = MAX_PIXELS) -> None:
    """Raise HeaderError if the header is unreadable or claims more than ``max_pixels`` in an image."""
    for w, h in claimed_sizes(data):
        if w <= 0 or h <= 0:
            raise HeaderError(f"header claims an empty image ({w}x{h})")
        if w * h > max_pixels:
            raise HeaderError(f"header claims {w:,}x{h:,} pixels, more than the "
                              f"{max_pixels:,} this app reads")


def _png(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise HeaderError("PNG header is damaged (no IHDR chunk first)")
    return struct.unpack(">II", data[16:24])


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise HeaderError("JPEG header is damaged (marker expected)")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in _SOF:
            if i + 9 > len(data):
                break
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        if marker == 0xDA or length < 2:  # scan data before any frame header
            break
        i += 2 + length
    raise HeaderError("JPEG header is damaged or truncated (no frame size)")


def _tiff(data: bytes) -> list[tuple[int, int]]:
    end = "<" if data[:2] == b"II" else ">"
    if len(data) < 8:
        raise HeaderError("TIFF header is truncated")
    (offset,) = struct.unpack(end + "I", data[4:8])
    sizes, seen = [], set()
    while offset and len(sizes) < MAX_TIFF_PAGES:
        if offset in seen or offset + 2 > len(data):
            raise HeaderError("TIFF header is damaged (page directory outside the file)")
        seen.add(offset)
        (n,) = struct.unpack(end + "H", data[offset:offset + 2])
        if offset + 2 + 12 * n + 4 > len(data):
            raise HeaderError("TIFF header is truncated")
        w = h = 0
        for k in range(n):
            e = offset + 2 + 12 * k
            tag, typ = struct.unpack(end + "HH", data[e:e + 4])
            if tag in (256, 257):
                value = struct.unpack(end + ("H" if typ == 3 else "I"), data[e + 8:e + (10 if typ == 3 else 12)])[0]
                if tag == 256:
                    w = value
                else:
                    h = value
        sizes.append((w, h))
        (offset,) = struct.unpack(end + "I", data[offset + 2 + 12 * n:offset + 6 + 12 * n])
    return sizes
