"""labelme JSON <-> image + class mask, Qt-free.

Import fills every ``cell`` polygon with 1, then every ``fragment`` polygon
with 2 (fragments win), one polygon at a time with ``cv2.fillPoly`` on
vertices rounded by ``np.round``: this reproduces the CleavageEmbryo masks
exactly (``tests/test_labelme_io.py``). Export traces class-1 components as
``cell`` and class-2 components as ``fragment`` polygons through the centres
of their border pixels; a hole that import would wrongly fill is joined to
its outer border by a zero-width cut (a "keyhole"), because labelme polygons
cannot have holes. Importing an export gives back the same mask.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app.core import atomic
from app.core.imaging import decode_image
from app.version import __version__

LABELS = {"cell": 1, "fragment": 2}
LABELME_VERSION = "5.2.1"


class LabelmeError(Exception):
    """A labelme file that cannot be used; the message names the file."""


@dataclass
class LabelmeAnnotation:
    image: np.ndarray | None
    mask: np.ndarray
    image_bytes: bytes | None  # the embedded (or beside) file's bytes: hash these
    image_path: str  # as written in the JSON
    ignored: list[str] = field(default_factory=list)  # shapes not used, for the user
    other: dict = field(default_factory=dict)  # keys labelme does not define


def rasterize(shapes: list[dict], height: int, width: int) -> tuple[np.ndarray, list[str]]:
    mask = np.zeros((height, width), np.uint8)
    ignored = []
    for label, value in LABELS.items():
        for s in shapes:
            if s.get("label") != label:
                continue
            kind = s.get("shape_type") or "polygon"
            pts = np.asarray(s.get("points") or [], dtype=np.float64).reshape(-1, 2)
            if kind == "rectangle" and len(pts) == 2:
                (x0, y0), (x1, y1) = pts
                pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
            elif kind != "polygon" or len(pts) == 0:
                ignored.append(f"{label} {kind} with {len(pts)} point(s)")
                continue
            cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], value)
    known = set(LABELS)
    ignored += [f"label {s.get('label')!r}" for s in shapes if s.get("label") not in known]
    return mask, ignored


def read_labelme(json_path: str | os.PathLike, load_image: bool = True) -> LabelmeAnnotation:
    jp = Path(json_path)
    try:
        doc = json.loads(jp.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LabelmeError(f"{jp}: not a readable labelme JSON ({exc})") from None
    if not isinstance(doc, dict) or "shapes" not in doc:
        raise LabelmeError(f"{jp}: not a labelme JSON (no 'shapes')")
    image_path = doc.get("imagePath") or ""
    data: bytes | None = None
    image = None
    if doc.get("imageData"):
        try:
            data = base64.b64decode(doc["imageData"])
        except ValueError as exc:
            raise LabelmeError(f"{jp}: imageData is not base64 ({exc})") from None
    elif image_path and (jp.parent / image_path).is_file():
        data = (jp.parent / image_path).read_bytes()
    if load_image or not (doc.get("imageHeight") and doc.get("imageWidth")):
        if data is None:
            raise LabelmeError(f"{jp}: no embedded image and {image_path!r} not found beside it")
        image = decode_image(data, name=image_path or jp.name)
        h, w = image.shape[:2]
    else:
        h, w = int(doc["imageHeight"]), int(doc["imageWidth"])
    mask, ignored = rasterize(doc["shapes"], h, w)
    known = {"version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth"}
    other = {k: v for k, v in doc.items() if k not in known}
    return LabelmeAnnotation(image, mask, data, image_path, ignored, other)


def _keyhole(outer: np.ndarray, holes: list[np.ndarray], region: np.ndarray) -> np.ndarray:
    """Join holes to the outline by going to each hole and back along the same segment.

    The segment is drawn by ``fillPoly``, so it must run over region pixels only:
    the nearest pair whose line stays inside is used (not merely the nearest).
    """
    poly = outer
    for hole in holes:
        d = ((poly[:, None, :] - hole[None, :, :]) ** 2).sum(-1)
        order = np.argsort(d, axis=None, kind="stable")[:400]
        best = order[0]
        for k in order:
            i, j = np.unravel_index(int(k), d.shape)
            if _line_inside(poly[i], hole[j], region):
                best = k
                break
        i, j = np.unravel_index(int(best), d.shape)
        ring = np.concatenate([hole[j:], hole[: j + 1]])
        poly = np.concatenate([poly[: i + 1], ring, poly[i:]])
    return poly


def _line_inside(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> bool:
    x0, y0 = np.minimum(a, b)
    x1, y1 = np.maximum(a, b)
    canvas = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.line(canvas, (int(a[0] - x0), int(a[1] - y0)), (int(b[0] - x0), int(b[1] - y0)), 1)
    return bool(region[y0 : y1 + 1, x0 : x1 + 1][canvas > 0].all())


def _polygons(region: np.ndarray, fill_ok: np.ndarray | None) -> list[np.ndarray]:
    """Polygons that ``fillPoly`` turns back into ``region``.

    Holes made only of pixels where ``fill_ok`` is true (painted over later
    anyway) are left filled, so a cell under a fragment stays one plain
    polygon as annotators draw it; other holes get a keyhole.
    """
    region = region.astype(np.uint8)
    if fill_ok is not None:
        holes = _holes(region)
        n, lab = cv2.connectedComponents(holes, connectivity=4)
        for k in range(1, n):
            comp = lab == k
            if fill_ok[comp].all():
                region[comp] = 1
    contours, hierarchy = cv2.findContours(region, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    if hierarchy is None:
        return out
    hier = hierarchy[0]
    for idx, c in enumerate(contours):
        if hier[idx][3] != -1:
            continue  # a hole: handled with its outer contour
        holes_of = []
        child = hier[idx][2]
        while child != -1:
            holes_of.append(contours[child].reshape(-1, 2))
            child = hier[child][0]
        out.append(_keyhole(c.reshape(-1, 2), holes_of, region))
    return out


def _holes(region: np.ndarray) -> np.ndarray:
    # Background not reachable from the image border (4-connected, like the holes
    # findContours reports for 8-connected foreground).
    padded = np.pad(region, 1)
    n, lab = cv2.connectedComponents((padded == 0).astype(np.uint8), connectivity=4)
    outside = lab == lab[0, 0]
    return ((padded == 0) & ~outside)[1:-1, 1:-1].astype(np.uint8)


def mask_to_shapes(mask: np.ndarray) -> list[dict]:
    """labelme shapes (cell polygons, then fragment polygons) that rasterise to ``mask``."""
    if mask.ndim != 2:
        raise ValueError("mask must be 2-D")
    shapes = []
    for label, value, fill_ok in (("cell", 1, mask == 2), ("fragment", 2, None)):
        for poly in _polygons(mask == value, fill_ok):
            pts = poly.astype(float).tolist()
            while len(pts) < 3:  # labelme wants 3+ points; a repeated point draws nothing new
                pts.append(pts[-1])
            shapes.append({"label": label, "points": pts, "group_id": None, "description": "",
                           "shape_type": "polygon", "flags": {}})
    check, _ = rasterize(shapes, *mask.shape)
    if not np.array_equal(check, mask):
        # Should not happen; if it does, say so rather than export a silently different mask.
        raise LabelmeError(f"polygon export differs from the mask in {(check != mask).sum()} px")
    return shapes


def encode_png(image: np.ndarray) -> bytes:
    arr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", arr)
    if not ok:
        raise LabelmeError("PNG encoding failed")
    return buf.tobytes()


def labelme_document(mask: np.ndarray, image: np.ndarray | None, image_path: str,
                     image_bytes: bytes | None = None, other: dict | None = None) -> dict:
    """A labelme 5 document; the image is embedded (``image_bytes`` as is, else as PNG)."""
    if image_bytes is None and image is not None:
        image_bytes = encode_png(image)
    doc = {
        "version": LABELME_VERSION,
        "flags": {},
        "shapes": mask_to_shapes(mask),
        "imagePath": image_path,
        "imageData": base64.b64encode(image_bytes).decode("ascii") if image_bytes else None,
        "imageHeight": int(mask.shape[0]),
        "imageWidth": int(mask.shape[1]),
    }
    doc.update(other or {})
    doc.setdefault("embryograde", {}).setdefault("app_version", __version__)
    return doc


def write_labelme(json_path: str | os.PathLike, mask: np.ndarray, image: np.ndarray | None,
                  image_path: str, image_bytes: bytes | None = None,
                  other: dict | None = None) -> None:
    doc = labelme_document(mask, image, image_path, image_bytes, other)
    atomic.write_text(json_path, json.dumps(doc, indent=2))


__all__ = ["LABELS", "LabelmeAnnotation", "LabelmeError", "labelme_document", "mask_to_shapes",
           "rasterize", "read_labelme", "write_labelme"]
