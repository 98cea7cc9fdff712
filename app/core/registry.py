"""The model registry: every model the user can grade with, and which one is active. Qt-free.

Lives in ``user_data_root()/models/``: ``registry.json`` (the index),
``<version>.pt`` (checkpoint copies; the version is the file's short SHA-256,
``model.checkpoint.file_version``), ``<version>.json`` (a sidecar copy of
each entry) and ``active.txt`` (the active version). The index is written
atomically (temp file, fsync, ``os.replace``). The sidecars and ``active.txt``
exist so that a damaged index can be moved aside and rebuilt from what is on
disk without losing parents, training samples, metrics or the active choice.

The bundled model (``resources/models/default.pt``; under ``sys._MEIPASS`` in
a frozen app) is listed but never copied or deleted: it is the floor every
rollback can reach. Design: docs/fine-tuning.md.

``recorder`` (None: this workstation alone) is set when the window or the
CLI works against a lab server (``app.core.server_models.recorder``): each
activation and rollback is then also an event on the server, refused there
unless the user is a lab admin, and refused here in that case too.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from app.core import atomic

# Imported by name so tests can point the registry at another bundled model.
from app.core.resources import bundled_model_path, model_override
from model.checkpoint import file_version

REGISTRY_FORMAT = 1
STATUSES = ("bundled", "candidate", "accepted", "rejected", "recovered")
# The index is read-modify-written by the GUI and the CLI of one user; a
# thread lock covers the GUI's workers. Two processes writing at the same
# instant lose one write, never the file (atomic replace).
_LOCK = threading.RLock()


class RegistryError(Exception):
    """A registry operation that cannot be done; the message says why."""


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def registry_root() -> Path:
    from app.core.project_dir import user_data_root

    return user_data_root() / "models"


@dataclass
class ModelEntry:
    version: str
    file: str  # name under the registry folder; the bundled model's absolute path
    status: str = "candidate"
    parent: str | None = None
    created_utc: str = ""
    reason: str = ""  # why rejected / recovered
    trained_on: dict = field(default_factory=dict)  # store, samples (sha256), validation keys/samples
    metrics: dict = field(default_factory=dict)  # this model on its validation set
    parent_metrics: dict = field(default_factory=dict)  # the parent on the same samples
    note: str = ""

    @property
    def bundled(self) -> bool:
        return self.status == "bundled"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelEntry:
        known = {f.name for f in fields(cls)}
        if not isinstance(d, dict) or not isinstance(d.get("version"), str) or not isinstance(d.get("file"), str):
            raise ValueError("an entry needs a version and a file")
        return cls(**{k: v for k, v in d.items() if k in known})


class Registry:
    def __init__(self, root: str | os.PathLike | None = None, bundled: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else registry_root()
        self.bundled_path = Path(bundled) if bundled is not None else bundled_model_path()
        self.index_path = self.root / "registry.json"
        self.recovery: list[str] = []  # what was done about a damaged index (for the user)
        self.recorder = None  # callable([(version, status, note, metadata)]) -> context manager

    def recorded(self, events: list[tuple[str, str, str, dict]]):
        """The lab server's record of a change, around the change (nothing without a recorder)."""
        return self.recorder(events) if self.recorder is not None else nullcontext()

    # -- reading -------------------------------------------------------------------------
    def _bundled_entry(self, data: dict) -> ModelEntry | None:
        p = self.bundled_path
        if not p.is_file():
            return None
        st = p.stat()
        stamp = [str(p), st.st_size, st.st_mtime_ns]
        # Hashing a large bundled file on every read would cost seconds; the stamp avoids it.
        cached = data.get("bundled_stamp") or []
        version = cached[3] if cached[:3] == stamp and len(cached) == 4 else file_version(p)
        data["bundled_stamp"] = [*stamp, version]
        return ModelEntry(version=version, file=str(p), status="bundled", created_utc=_mtime_utc(p),
                          note="bundled with the application")

    def _read(self) -> dict:
        """The index as {active, models: {version: ModelEntry}}; rebuilds a damaged one."""
        data = None
        if self.index_path.exists():
            try:
                raw = json.loads(self.index_path.read_text("utf-8"))
                if not isinstance(raw, dict) or raw.get("format") != REGISTRY_FORMAT:
                    raise ValueError(f"not a registry of format {REGISTRY_FORMAT}")
                models = {v: ModelEntry.from_dict(d) for v, d in raw["models"].items()}
                data = {"active": raw.get("active"), "models": models, "events": list(raw.get("events", [])),
                        "bundled_stamp": raw.get("bundled_stamp")}
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                data = self._rebuild(f"{type(exc).__name__}: {str(exc)[:200]}")
        if data is None:
            data = {"active": None, "models": {}, "events": []}
        data["models"] = {v: e for v, e in data["models"].items() if not e.bundled}
        b = self._bundled_entry(data)
        if b is not None:
            data["models"][b.version] = b
        if data["active"] not in data["models"]:
            data["active"] = b.version if b else None
        return data

    def _rebuild(self, reason: str) -> dict:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.index_path.with_name(f"{self.index_path.name}.damaged-{stamp}")
        os.replace(self.index_path, aside)
        models: dict[str, ModelEntry] = {}
        for pt in sorted(self.root.glob("*.pt")):
            try:
                version = file_version(pt)
            except OSError:
                continue
            entry = None
            side = self.root / f"{version}.json"
            try:
                entry = ModelEntry.from_dict(json.loads(side.read_text("utf-8")))
                entry.file = pt.name
            except (OSError, ValueError, TypeError):
                entry = _entry_from_checkpoint(pt, version)
            if entry is not None:
                models[version] = entry
        active = None
        try:
            active = (self.root / "active.txt").read_text("utf-8").strip() or None
        except OSError:
            pass
        msg = (f"the model registry {self.index_path} was unreadable ({reason}); it was moved to "
               f"{aside.name} and rebuilt from {len(models)} checkpoint file(s)")
        self.recovery.append(msg)
        data = {"active": active if active in models else None, "models": models,
                "events": [{"time_utc": _utc_now(), "action": "rebuilt", "detail": msg}]}
        self._write(data)
        return data

    # -- writing -------------------------------------------------------------------------
    def _write(self, data: dict) -> None:
        out = {"format": REGISTRY_FORMAT, "active": data["active"],
               "models": {v: e.to_dict() for v, e in data["models"].items()},
               "events": data.get("events", [])[-500:], "bundled_stamp": data.get("bundled_stamp")}
        atomic.write_text(self.index_path, json.dumps(out, indent=1, sort_keys=True, allow_nan=False))
        active = data["active"] or ""
        try:
            if (self.root / "active.txt").read_text("utf-8").strip() == active:
                return
        except OSError:
            pass
        atomic.write_text(self.root / "active.txt", active + "\n")

    def _write_sidecar(self, e: ModelEntry) -> None:
        if not e.bundled:
            atomic.write_text(self.root / f"{e.version}.json", json.dumps(e.to_dict(), indent=1, allow_nan=False))

    @staticmethod
    def _event(data: dict, action: str, version: str | None, **detail) -> None:
        data.setdefault("events", []).append({"time_utc": _utc_now(), "action": action, "version": version,
                                              **detail})

    # -- public API ----------------------------------------------------------------------
    def entries(self) -> list[ModelEntry]:
        """Oldest first; the bundled model first of all."""
        with _LOCK:
            data = self._read()
        return sorted(data["models"].values(), key=lambda e: (not e.bundled, e.created_utc, e.version))

    def get(self, version: str) -> ModelEntry:
        with _LOCK:
            models = self._read()["models"]
        return self._find(models, version)

    @staticmethod
    def _find(models: dict, version: str) -> ModelEntry:
        if version in models:
            return models[version]
        hits = [v for v in models if v.startswith(version)] if len(version) >= 4 else []
        if len(hits) == 1:
            return models[hits[0]]
        raise RegistryError(f"no model {version!r} in the registry" if not hits
                            else f"{version!r} is ambiguous: {', '.join(sorted(hits))}")

    def active_version(self) -> str | None:
        with _LOCK:
            return self._read()["active"]

    def path_of(self, entry: ModelEntry) -> Path:
        return Path(entry.file) if entry.bundled else self.root / entry.file

    def active_path(self) -> Path:
        """The checkpoint to grade with: the active model, else the bundled one."""
        try:
            with _LOCK:
                data = self._read()
        except OSError:
            return self.bundled_path
        v = data["active"]
        if v and v in data["models"]:
            p = self.path_of(data["models"][v])
            if p.is_file():
                return p
        return self.bundled_path

    def register(self, checkpoint: str | os.PathLike, parent: str | None = None, *, status: str = "candidate",
                 reason: str = "", trained_on: dict | None = None, metrics: dict | None = None,
                 parent_metrics: dict | None = None, note: str = "") -> ModelEntry:
        """Copy a checkpoint into the registry (idempotent for the same file) and list it."""
        if status not in STATUSES or status == "bundled":
            raise RegistryError(f"cannot register a model with status {status!r}")
        src = Path(checkpoint)
        version = file_version(src)
        with _LOCK:
            data = self._read()
            if version in data["models"] and data["models"][version].bundled:
                raise RegistryError(f"{version} is the bundled model")
            dest = self.root / f"{version}.pt"
            if not dest.is_file() or file_version(dest) != version:
                self.root.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{version}.", suffix=".tmp", dir=self.root)
                os.close(fd)
                try:
                    shutil.copyfile(src, tmp)
                    with open(tmp, "rb+") as f:
                        os.fsync(f.fileno())
                    if file_version(tmp) != version:
                        raise RegistryError(f"{src} changed while it was being copied")
                    os.replace(tmp, dest)
                finally:
                    Path(tmp).unlink(missing_ok=True)
            e = ModelEntry(version=version, file=dest.name, status=status, parent=parent, created_utc=_utc_now(),
                           reason=reason, trained_on=dict(trained_on or {}), metrics=dict(metrics or {}),
                           parent_metrics=dict(parent_metrics or {}), note=note)
            data["models"][version] = e
            self._event(data, "registered", version, parent=parent, status=status)
            self._write_sidecar(e)
            self._write(data)
            return e

    def set_status(self, version: str, status: str, reason: str = "") -> ModelEntry:
        if status not in STATUSES or status == "bundled":
            raise RegistryError(f"unknown status {status!r}")
        with _LOCK:
            data = self._read()
            e = self._find(data["models"], version)
            if e.bundled:
                raise RegistryError("the bundled model's status cannot change")
            e.status, e.reason = status, reason
            self._event(data, "status", e.version, status=status, reason=reason)
            self._write_sidecar(e)
            self._write(data)
            return e

    def activate(self, version: str, force: bool = False) -> ModelEntry:
        """Make a model the active one. A rejected model needs ``force`` (and says so in the log)."""
        with _LOCK:
            data = self._read()
            e = self._find(data["models"], version)
            if not self.path_of(e).is_file():
                raise RegistryError(f"{e.version}: its checkpoint {self.path_of(e)} is missing")
            if e.status == "rejected" and not force:
                raise RegistryError(f"{e.version} was rejected ({e.reason or 'no reason recorded'}); "
                                    "activate it anyway with --force")
            previous = data["active"]
            forced = bool(force and e.status == "rejected")
        # The lab server's round trip outside the lock: the window reads the registry meanwhile.
        with self.recorded([(e.version, "active", "activated" + (" (forced)" if forced else ""),
                             {"previous": previous, "forced": forced, "metrics": e.metrics})]):
            self._set_active(e.version, "activated", previous=previous, forced=forced)
        return e

    def _set_active(self, version: str, action: str, **detail) -> None:
        with _LOCK:
            data = self._read()
            data["active"] = version
            self._event(data, action, version, **detail)
            self._write(data)

    def rollback(self) -> ModelEntry:
        """Activate the parent of the active model (the bundled one when the parent is gone)."""
        with _LOCK:
            data = self._read()
            models, active = data["models"], data["active"]
            if active is None:
                raise RegistryError("no model is active: there is nothing to roll back")
            if models[active].bundled:
                raise RegistryError("the active model is the bundled one: there is nothing to roll back to")
            parent = models[active].parent
            target = models.get(parent) if parent else None
            if target is None or not self.path_of(target).is_file():
                target = next((m for m in models.values() if m.bundled), None)
            if target is None:
                raise RegistryError(f"{active} has no parent in the registry and no bundled model is installed")
        with self.recorded([(target.version, "active", f"rollback from {active}", {"previous": active})]):
            self._set_active(target.version, "rollback", previous=active)
        return target

    def delete(self, version: str) -> None:
        with _LOCK:
            data = self._read()
            e = self._find(data["models"], version)
            if e.bundled:
                raise RegistryError("the bundled model cannot be deleted")
            if data["active"] == e.version:
                raise RegistryError(f"{e.version} is the active model: activate another one first")
            del data["models"][e.version]
            self._event(data, "deleted", e.version)
            self._write(data)
            (self.root / e.file).unlink(missing_ok=True)
            (self.root / f"{e.version}.json").unlink(missing_ok=True)

    def events(self) -> list[dict]:
        with _LOCK:
            return list(self._read().get("events", []))


def _mtime_utc(p: Path) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(p.stat().st_mtime))


def _entry_from_checkpoint(pt: Path, version: str) -> ModelEntry | None:
    """An entry for a checkpoint without a sidecar: what its own metadata says."""
    from model.checkpoint import CheckpointError, read_checkpoint_payload

    try:
        _, meta, _ = read_checkpoint_payload(pt)
    except CheckpointError:
        return None
    return ModelEntry(version=version, file=pt.name, status="recovered", parent=meta.get("init_version"),
                      created_utc=meta.get("created_utc", _mtime_utc(pt)),
                      reason="rebuilt from the checkpoint file; training samples unknown",
                      metrics={k: v for k, v in (meta.get("val") or {}).items() if isinstance(v, (int, float))})


def active_model_path(registry: Registry | None = None) -> Path:
    """The default model of the GUI and the CLI.

    ``$EMBRYOGRADE_MODEL`` when set, else the registry's active model, else
    the bundled one.
    """
    override = model_override()
    if override is not None:
        return override
    try:
        return (registry or Registry()).active_path()
    except (RegistryError, OSError):
        return bundled_model_path()
