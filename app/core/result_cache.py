"""Cache of model results per image, in memory (bounded LRU) and on disk. Qt-free.

Shared by the review window and the batch-grading command. A result is keyed
by the SHA-256 of the image file's bytes and the model version (the short
hash of the checkpoint), so a changed image or a changed model misses.

Disk layout under ``project_dir(folder)/cache/``::

    index.json                         rel path -> [size, mtime_ns, sha256]
    <model_version>/<sha[:2]>/<sha>.npz

Each ``.npz`` (compressed) holds ``class_mask`` uint8, ``probabilities``
quantised to uint8 (p * 255), every attention map as float16 (``att__<gate>``)
and ``meta``: the scalar fields as UTF-8 JSON. Files are written to a temp
name and swapped in with ``os.replace``, so a crash never leaves half a file
under the final name; an unreadable file is treated as a miss.

The memory part keeps the compact (quantised) arrays, not the float32 ones,
so 32 items of 800x800 images cost about 150 MB rather than 400 MB.
Thread-safe: the GUI reads it while worker threads fill it.
"""

from __future__ import annotations

import io
import json
import math
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from app.core import atomic
from app.core.imaging import sha256_file
from app.core.project_dir import project_dir
from model.grading import DEFAULT_SCHEME
from model.predictor import Prediction

CACHE_FORMAT = 1
_ATT_PREFIX = "att__"
_INDEX_FLUSH_EVERY = 200  # new hashes between index writes (also flushed by flush()/close())


def encode(prediction: Prediction) -> dict[str, np.ndarray]:
    """The compact arrays stored for one prediction (also the memory form)."""
    p = prediction
    meta = {
        "format": CACHE_FORMAT,
        "fraction_mask": p.fraction_mask,
        "fraction_regression": None if math.isnan(p.fraction_regression) else p.fraction_regression,
        "grade": p.grade,
        "scheme": p.scheme,
        "uncertainty": p.uncertainty,
        "borderline": bool(p.borderline),
        "disagreement": bool(p.disagreement),
        "model_version": p.model_version,
        "embryo_box": [int(v) for v in p.embryo_box],
        "warnings": list(p.warnings),
        "interval_coverage": p.interval_coverage,
        "ood_score": None if math.isnan(p.ood_score) else float(p.ood_score),
        "unusual": bool(p.unusual),
    }
    out = {
        "class_mask": np.ascontiguousarray(p.class_mask, dtype=np.uint8),
        "probabilities": np.clip(np.rint(p.probabilities * 255.0), 0, 255).astype(np.uint8),
        "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
    }
    for name, att in p.attention.items():
        out[_ATT_PREFIX + name] = np.asarray(att, dtype=np.float16)
    return out


def decode(arrays: dict[str, np.ndarray]) -> Prediction:
    meta = json.loads(bytes(arrays["meta"]).decode("utf-8"))
    if meta.get("format") != CACHE_FORMAT:
        raise ValueError(f"cache format {meta.get('format')!r} not supported")
    reg = meta["fraction_regression"]
    return Prediction(
        class_mask=arrays["class_mask"],
        probabilities=arrays["probabilities"].astype(np.float32) / 255.0,
        attention={k[len(_ATT_PREFIX):]: v.astype(np.float32) for k, v in arrays.items()
                   if k.startswith(_ATT_PREFIX)},
        fraction_mask=float(meta["fraction_mask"]),
        fraction_regression=float("nan") if reg is None else float(reg),
        grade=meta["grade"],
        scheme=meta["scheme"],
        uncertainty=float(meta["uncertainty"]),
        borderline=bool(meta["borderline"]),
        disagreement=bool(meta["disagreement"]),
        model_version=meta["model_version"],
        embryo_box=tuple(meta["embryo_box"]),
        warnings=list(meta["warnings"]),
        interval_coverage=meta.get("interval_coverage"),
        ood_score=float("nan") if meta.get("ood_score") is None else float(meta["ood_score"]),
        unusual=bool(meta.get("unusual", False)),
    )


class ResultCache:
    def __init__(self, folder, memory_items: int = 32):
        self.folder = Path(folder).resolve()
        self.root = project_dir(self.folder) / "cache"
        self.root.mkdir(parents=True, exist_ok=True)
        self.memory_items = max(0, int(memory_items))
        self._memory: OrderedDict[tuple[str, str], dict[str, np.ndarray]] = OrderedDict()
        self._lock = threading.RLock()
        self._index_path = self.root / "index.json"
        self._index: dict[str, list] = self._read_index()
        self._index_dirty = 0
        self.hits = self.misses = 0

    # -- results ------------------------------------------------------------------------------
    def get(self, sha256: str, model_version: str, scheme: str = DEFAULT_SCHEME) -> Prediction | None:
        key = (sha256, model_version)
        with self._lock:
            arrays = self._memory.get(key)
            if arrays is not None:
                self._memory.move_to_end(key)
        if arrays is None:
            arrays = self._read_disk(sha256, model_version)
            if arrays is None:
                self.misses += 1
                return None
            self._remember(key, arrays)
        try:
            pred = decode(arrays)
        except (KeyError, ValueError, TypeError):
            self.misses += 1
            return None
        if pred.model_version != model_version:
            self.misses += 1
            return None
        self.hits += 1
        return pred.regrade(scheme)

    def get_memory(self, sha256: str, model_version: str, scheme: str = DEFAULT_SCHEME) -> Prediction | None:
        """Like ``get`` but never touches the disk (safe on a GUI thread)."""
        with self._lock:
            arrays = self._memory.get((sha256, model_version))
            if arrays is None:
                return None
            self._memory.move_to_end((sha256, model_version))
        return decode(arrays).regrade(scheme)

    def get_meta(self, sha256: str, model_version: str) -> dict | None:
        """The scalar fields of a cached result, reading no arrays (listing a whole folder)."""
        with self._lock:
            arrays = self._memory.get((sha256, model_version))
        try:
            if arrays is not None:
                meta = json.loads(bytes(arrays["meta"]).decode("utf-8"))
            else:
                with np.load(self._result_path(sha256, model_version), allow_pickle=False) as z:
                    meta = json.loads(bytes(z["meta"]).decode("utf-8"))
        except Exception:  # missing, truncated or foreign: not graded
            return None
        return meta if meta.get("model_version") == model_version else None

    def put(self, sha256: str, prediction: Prediction) -> None:
        arrays = encode(prediction)
        self._remember((sha256, prediction.model_version), arrays)
        path = self._result_path(sha256, prediction.model_version)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic.write_bytes(path, buf.getvalue(), durable=False)

    def _remember(self, key, arrays) -> None:
        if self.memory_items == 0:
            return
        with self._lock:
            self._memory[key] = arrays
            self._memory.move_to_end(key)
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)

    def _result_path(self, sha256: str, model_version: str) -> Path:
        safe_version = "".join(c for c in model_version if c.isalnum() or c in "-_.") or "unversioned"
        return self.root / safe_version / sha256[:2] / f"{sha256}.npz"

    def _read_disk(self, sha256: str, model_version: str) -> dict[str, np.ndarray] | None:
        path = self._result_path(sha256, model_version)
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except FileNotFoundError:
            return None
        except Exception:  # truncated or foreign file: a miss; the next put replaces it
            return None

    # -- hashing ------------------------------------------------------------------------------
    def file_sha256(self, path) -> str:
        p = Path(path)
        st = p.stat()
        key = self._rel(p)
        with self._lock:
            rec = self._index.get(key)
        if rec and rec[0] == st.st_size and rec[1] == st.st_mtime_ns:
            return rec[2]
        sha = sha256_file(p)
        with self._lock:
            self._index[key] = [st.st_size, st.st_mtime_ns, sha]
            self._index_dirty += 1
            if self._index_dirty >= _INDEX_FLUSH_EVERY:
                self._flush_locked()
        return sha

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    close = flush

    def _flush_locked(self) -> None:
        if not self._index_dirty:
            return
        data = json.dumps({"format": CACHE_FORMAT, "files": self._index}).encode("utf-8")
        try:
            atomic.write_bytes(self._index_path, data, durable=False)
            self._index_dirty = 0
        except OSError:
            pass  # a read-only cache still works, it just re-hashes next time

    def _read_index(self) -> dict[str, list]:
        try:
            data = json.loads(self._index_path.read_text("utf-8"))
            if data.get("format") == CACHE_FORMAT and isinstance(data.get("files"), dict):
                return data["files"]
        except (OSError, ValueError, AttributeError):
            pass
        return {}

    def _rel(self, p: Path) -> str:
        ap = p.resolve() if not p.is_absolute() else p
        try:
            return ap.relative_to(self.folder).as_posix()
        except ValueError:
            return ap.as_posix()

    def __del__(self):  # best effort; callers should flush()
        try:
            self.flush()
        except Exception:
            pass


__all__ = ["ResultCache", "encode", "decode"]
