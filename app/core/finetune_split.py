"""Which corrections train a fine-tune and which judge it: whole embryos, a fixed choice. Qt-free.

The validation embryos of a folder are chosen once and kept in
``<project dir>/finetune/validation.json``, so every fine-tune of that
folder is judged on the same embryos; embryos annotated later go to
training. ``snapshot`` copies either side into a small store of its own, so
edits made while a fine-tune runs cannot leak into its validation.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from app.core import atomic
from app.core.timelapse import embryo_key

VALIDATION_FILE = "validation.json"


@dataclass
class SampleRef:
    sha256: str
    path: str
    key: str
    has_mask: bool
    status: str


@dataclass
class SplitPlan:
    train: list[SampleRef]
    val: list[SampleRef]
    val_keys: list[str]
    new_choice: bool  # the validation embryos were chosen now (first fine-tune of this folder)
    note: str = ""

    def summary(self) -> str:
        vm = sum(s.has_mask for s in self.val)
        return (f"training: {len(self.train)} images of {len({s.key for s in self.train})} embryos; "
                f"validation (fixed): {len(self.val)} images ({vm} with masks) of {len(self.val_keys)} embryos")


def read_samples(store_path: Path, key_fn: Callable[[str], str] = embryo_key) -> list[SampleRef]:
    from app.core.store_api import open_store

    store = open_store(store_path, readonly=True)
    try:
        out = []
        for sha, rev in store.current_all(masks=False).items():
            if rev.status == "withdrawn":  # a correction taken back: no label
                continue
            has_mask = rev.status != "grade-only"
            out.append(SampleRef(sha, rev.path, key_fn(rev.path), has_mask, rev.status))
        return out
    finally:
        store.close()


def validation_file(store_path: Path | str) -> Path:
    return finetune_dir(store_path) / VALIDATION_FILE


def finetune_dir(store_path: Path | str) -> Path:
    """Beside a folder's HDF5 store; for the lab server, in this user's data folder (per server)."""
    from app.core.store_api import is_server_url

    if is_server_url(str(store_path)):
        import hashlib

        from app.core.project_dir import user_data_root
        from app.core.store_api import describe

        key = hashlib.sha256(describe(store_path).encode("utf-8")).hexdigest()[:16]
        return user_data_root() / "lab-server" / key / "finetune"
    return Path(store_path).parent / "finetune"


def plan_split(samples: list[SampleRef], store_path: Path | None = None, val_fraction: float = 0.2,
               seed: int = 0, val_keys: Iterable[str] | None = None, persist: bool = True) -> SplitPlan:
    """Whole embryos to one side. ``val_keys`` overrides the persisted choice (benches)."""
    keys = sorted({s.key for s in samples})
    new_choice, note = False, ""
    if val_keys is None and store_path is not None:
        val_keys = _load_val_keys(validation_file(store_path))
        if val_keys is not None and not set(val_keys) & set(keys):
            note = "the saved validation embryos are no longer in the store: chose new ones"
            val_keys = None
    if val_keys is None:
        new_choice = True
        val_keys = choose_validation(samples, val_fraction, seed)
        if persist and store_path is not None:
            _save_val_keys(validation_file(store_path), val_keys, val_fraction, seed)
    chosen = set(val_keys)
    return SplitPlan(train=[s for s in samples if s.key not in chosen],
                     val=[s for s in samples if s.key in chosen],
                     val_keys=sorted(chosen), new_choice=new_choice, note=note)


def choose_validation(samples: list[SampleRef], fraction: float, seed: int = 0) -> list[str]:
    """About ``fraction`` of the masked images, whole embryos, at least one embryo when there are two."""
    masked: dict[str, int] = {}
    for s in samples:
        if s.has_mask:  # evaluation scores masks; grade-only embryos would add nothing to validation
            masked[s.key] = masked.get(s.key, 0) + 1
    order = sorted(masked)
    if len({s.key for s in samples}) < 2 or not order:
        return []
    random.Random(seed).shuffle(order)
    target = max(1.0, fraction * sum(masked.values()))
    chosen, n = [], 0
    for k in order:
        if n >= target:
            break
        chosen.append(k)
        n += masked[k]
    if len(chosen) == len({s.key for s in samples}):  # never leave training empty
        chosen.pop()
    return sorted(chosen)


def _load_val_keys(path: Path) -> list[str] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
        keys = data["embryo_keys"]
        return [str(k) for k in keys] if isinstance(keys, list) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_validation(store_path: Path | str, keys: Iterable[str]) -> None:
    """The validation embryos the annotator picked, kept for every later fine-tune of the folder."""
    atomic.write_text(validation_file(store_path), json.dumps(
        {"embryo_keys": sorted(keys), "picked": "by hand",
         "chosen_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=1))


def _save_val_keys(path: Path, keys: list[str], fraction: float, seed: int) -> None:
    atomic.write_text(path, json.dumps({"embryo_keys": sorted(keys), "fraction": fraction, "seed": seed,
                                         "chosen_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                                        indent=1))


def snapshot(store_path: Path, shas: Iterable[str], out: Path) -> int:
    """Copy the current revisions (and pixels) of ``shas`` into a new store at ``out``."""
    import dataclasses

    from app.core.store import AnnotationStore
    from app.core.store_api import open_store

    src = open_store(store_path, readonly=True)
    n = 0
    try:
        with AnnotationStore(out, folder=src.folder, compact_every=0) as dst:
            for sha in shas:
                rev = src.current(sha)
                if rev is None:
                    continue
                try:
                    image = src.image(sha)
                except KeyError:
                    continue  # pixels nowhere: the trainer would skip it too
                dst.append(dataclasses.replace(rev, seq=0), image=image)
                n += 1
    finally:
        src.close()
    return n
