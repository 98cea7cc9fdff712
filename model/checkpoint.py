"""Checkpoints: one file with the weights and JSON-able metadata.

Loading uses ``torch.load(weights_only=True)``, so a file carrying pickled
code is refused before anything in it runs. The model version shown
everywhere is the short SHA-256 of the file's bytes: two files with the
same version are the same model.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from model.config import ModelConfig
from model.network import AttnRegDeepLab

FORMAT = "embryograde-checkpoint"
FORMAT_VERSION = 1
VERSION_CHARS = 12


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message names the file and the fault."""


@dataclass
class LoadedCheckpoint:
    model: AttnRegDeepLab
    config: ModelConfig
    metadata: dict
    version: str
    path: Path


def file_version(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:VERSION_CHARS]


def code_version() -> str:
    from app.version import __version__  # plain constants module, no Qt

    return __version__


def save_checkpoint(path: str | os.PathLike, model: AttnRegDeepLab, metadata: dict | None = None) -> str:
    """Write atomically (temp file + rename) and return the model version."""
    meta = dict(metadata or {})
    meta.setdefault("created_utc", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    meta.setdefault("code_version", code_version())
    try:
        meta_json = json.dumps(meta, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint metadata must be JSON-able: {exc}") from None
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.dumps(model.config.to_dict(), sort_keys=True),
        "metadata": meta_json,
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return file_version(path)


def read_checkpoint_payload(path: str | os.PathLike) -> tuple[ModelConfig, dict, dict]:
    """Validate a checkpoint file and return (config, metadata, state_dict)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint file not found")
    if p.stat().st_size == 0:
        raise CheckpointError(f"{p}: checkpoint file is empty")
    with open(p, "rb") as f:
        head = f.read(2)
    if not zipfile.is_zipfile(p):
        if head == b"PK":
            raise CheckpointError(f"{p}: not a readable checkpoint (truncated or corrupt archive)")
        if not head.startswith(b"\x80"):
            raise CheckpointError(f"{p}: not a readable checkpoint (neither a torch archive nor a pickle)")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{p}: refused: the file contains pickled objects other than weights "
            f"(possibly code); nothing in it was run. ({_unpickling_reason(exc)})"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{p}: not a readable checkpoint (truncated or corrupt: {str(exc)[:200]})") from None
    except Exception as exc:  # torch raises assorted types on garbage input
        raise CheckpointError(f"{p}: not a readable checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{p}: not an EmbryoGrade checkpoint (no '{FORMAT}' header)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{p}: checkpoint format version {payload.get('format_version')!r} is not supported "
            f"(this version reads {FORMAT_VERSION})"
        )
    try:
        config = ModelConfig.from_dict(json.loads(payload["config"]))
        metadata = json.loads(payload["metadata"])
        state = payload["state_dict"]
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError("state_dict is not a mapping of tensors")
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{p}: damaged checkpoint contents ({exc})") from None
    return config, metadata, state


def _unpickling_reason(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if "Unsupported" in ln or "global" in ln.lower():
            return ln[:200]
    return lines[0][:200] if lines else type(exc).__name__


def load_checkpoint(path: str | os.PathLike) -> LoadedCheckpoint:
    config, metadata, state = read_checkpoint_payload(path)
    model = AttnRegDeepLab(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise CheckpointError(
            f"{path}: weights do not match the configuration {config.name!r} stored in the file "
            f"({' '.join(first)[:300]})"
        ) from None
    model.eval()
    return LoadedCheckpoint(model=model, config=config, metadata=metadata, version=file_version(path), path=Path(path))
