"""Labelled frames for training and evaluation, from any source, behind one interface.

Every reader has ``len(ds)``, ``ds.get(i) -> FrameSample`` and ``ds.key(i)``
(the embryo key, from ``app.core.timelapse.embryo_key``: time-lapse frames
of one embryo are near-duplicates, so a split must keep them together).
Sources, chosen by ``open_data(spec)``:

  DIR with images/ and masks/   masks: uint8 PNG, 0 background, 1 blastomere, 2 fragment
  DIR of labelme *.json         through ``app.core.labelme_io.read_labelme``
  FILE.h5                       the annotation store, through ``app.core.store_training``
                                (grade-only revisions become Range-loss samples)
  postgresql://HOST/DB          the lab server's annotation store, the same way
  synth:N[:SEED]                N synthetic frames drawn on the fly (new ones every epoch)
  synth:N[:SEED]@DATA           the same with copy-paste synthesis: real cytoplasm texture,
                                fragments and outside texture cut from the labelled frames
                                of DATA (any spec above), see model/synth/real_bank.py
  SPEC*K                        any of the above, K times per epoch (a small real set
                                among many synthetic frames; each copy is augmented anew)

Qt-free. The labelme and store modules are imported only when used.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.core.imaging import list_images, read_image
from app.core.timelapse import embryo_key
from model.training.samples import FrameSample

# Seeds of on-the-fly synthetic training frames start here, far from the
# fixed test set (`synth --seed 12345 --n 300` uses seeds 12345..12644) and
# from the synthetic validation set (VAL_SEED_BASE).
TRAIN_SEED_BASE = 10_000_000
VAL_SEED_BASE = 5_000_000


class DataError(Exception):
    """A data spec that cannot be read; the message names it."""


class FolderFrames:
    """``images/NAME.*`` with ``masks/NAME.png``; small sets are kept in memory."""

    CACHE = 64

    def __init__(self, root: str | Path):
        self.root = Path(root)
        masks = {p.stem: p for p in (self.root / "masks").glob("*.png")}
        self.items = [(p, masks[p.stem]) for p in sorted(list_images(self.root / "images", False),
                                                           key=lambda p: p.name) if p.stem in masks]
        if not self.items:
            raise DataError(f"{self.root}: no image in images/ has a mask in masks/")
        self._cache: dict[int, FrameSample] = {}

    def __len__(self) -> int:
        return len(self.items)

    def key(self, i: int) -> str:
        # The file name with its suffix: parse_name strips one suffix, and a stem
        # like "D2024.10.20_..." would lose its date after the first dot.
        return embryo_key(self.items[i][0].name)

    def get(self, i: int) -> FrameSample:
        if i in self._cache:
            return self._cache[i]
        img_path, mask_path = self.items[i]
        mask = read_image(mask_path)
        if mask.ndim == 3:
            mask = mask[..., 0]
        if mask.max() > 2:
            raise DataError(f"{mask_path}: mask values must be 0, 1, 2 (found {int(mask.max())})")
        s = FrameSample(read_image(img_path), mask.astype(np.uint8), key=self.key(i), source=str(img_path))
        if len(self.items) <= self.CACHE:
            self._cache[i] = s
        return s


class LabelmeFrames:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.items = sorted(self.root.glob("*.json"))
        if not self.items:
            raise DataError(f"{self.root}: no labelme .json files")

    def __len__(self) -> int:
        return len(self.items)

    def key(self, i: int) -> str:
        return embryo_key(self.items[i].name)

    def get(self, i: int) -> FrameSample:
        from app.core.labelme_io import read_labelme

        ann = read_labelme(self.items[i], load_image=True)
        if ann.image is None:
            raise DataError(f"{self.items[i]}: labelme file without a readable image")
        return FrameSample(ann.image, ann.mask.astype(np.uint8), key=self.key(i), source=str(self.items[i]))


class StoreFrames:
    """Current revisions of an annotation store (read once, kept in memory)."""

    def __init__(self, path: str | Path):
        from app.core.store_api import describe, open_store
        from app.core.store_training import iter_training_samples

        store = open_store(path, readonly=True)
        name = describe(path)  # a server URL without its password
        try:
            self.samples = []
            for s in iter_training_samples(store):
                grade = s.grade if s.mask is None else None
                frac = s.provenance.get("fragment_fraction") if s.mask is None else None
                self.samples.append(FrameSample(s.image, s.mask, fraction=frac, grade=grade,
                                                scheme=s.scheme or "istanbul", key=s.embryo_key,
                                                source=f"{name}#{s.sha256[:12]}"))
        finally:
            close = getattr(store, "close", None)
            if close:
                close()
        if not self.samples:
            raise DataError(f"{name}: the store holds no usable labelled images")

    def __len__(self) -> int:
        return len(self.samples)

    def key(self, i: int) -> str:
        return self.samples[i].key

    def get(self, i: int) -> FrameSample:
        return self.samples[i]


class SyntheticFrames:
    """N synthetic frames; with ``fresh`` every epoch draws new seeds."""

    def __init__(self, n: int, seed: int = 0, size: int = 800, fresh: bool = True, base: int = TRAIN_SEED_BASE,
                 bank=None):
        self.n, self.seed, self.size, self.fresh, self.base = n, seed, size, fresh, base
        self.bank = bank  # model.synth.real_bank.RealBank or None (procedural look only)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def seed_of(self, i: int) -> int:
        return self.base + self.seed * 1_000_000 + (self.epoch * self.n if self.fresh else 0) + i

    def key(self, i: int) -> str:
        return f"synth-{self.seed_of(i)}"

    def get(self, i: int) -> FrameSample:
        from model.synth import generate

        s = generate(self.seed_of(i), size=self.size, bank=self.bank)
        return FrameSample(s.image, s.mask, fraction=s.fraction, key=self.key(i),
                           source=f"synth:{self.seed_of(i)}", meta={"style": s.style})


def real_bank(frames, seed: int = 0):
    """The copy-paste bank of every labelled frame in a reader (grade-only ones have no mask)."""
    from model.synth.real_bank import RealBank

    pairs = ((f.image, f.mask) for f in (frames.get(i) for i in range(len(frames))) if f.mask is not None)
    bank = RealBank.from_frames(pairs, seed=seed)
    if not bank:
        raise DataError("the copy-paste source holds no labelled blastomere to cut texture from")
    return bank


class Concat:
    def __init__(self, parts: Sequence):
        self.parts = [p for p in parts if len(p)]
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _locate(self, i: int):
        j = int(np.searchsorted(self.offsets, i, side="right") - 1)
        return self.parts[j], i - int(self.offsets[j])

    def key(self, i: int) -> str:
        p, k = self._locate(i)
        return p.key(k)

    def get(self, i: int) -> FrameSample:
        p, k = self._locate(i)
        return p.get(k)

    def set_epoch(self, epoch: int) -> None:
        for p in self.parts:
            if hasattr(p, "set_epoch"):
                p.set_epoch(epoch)


class Subset:
    def __init__(self, base, indices: Sequence[int]):
        self.base, self.indices = base, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def key(self, i: int) -> str:
        return self.base.key(self.indices[i])

    def get(self, i: int) -> FrameSample:
        return self.base.get(self.indices[i])

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)


def open_data(spec: str):
    """One data spec (see the module docstring) as a frame reader."""
    base, star, times = spec.rpartition("*")
    if star and times.isdigit() and base:
        frames = open_data(base)
        return Subset(frames, [i for _ in range(int(times)) for i in range(len(frames))])
    if spec.startswith("synth:"):
        spec, _, source = spec.partition("@")
        parts = spec.split(":")
        try:
            n = int(parts[1])
            seed = int(parts[2]) if len(parts) > 2 else 0
        except (IndexError, ValueError):
            raise DataError(f"{spec!r}: write synth:N or synth:N:SEED") from None
        return SyntheticFrames(n, seed, bank=real_bank(open_data(source)) if source else None)
    from app.core.store_api import is_server_url

    if is_server_url(spec):
        return StoreFrames(spec)
    p = Path(spec)
    if p.is_file() and p.suffix.lower() in (".h5", ".hdf5"):
        return StoreFrames(p)
    if p.is_dir() and (p / "images").is_dir() and (p / "masks").is_dir():
        return FolderFrames(p)
    if p.is_dir() and any(p.glob("*.json")):
        return LabelmeFrames(p)
    raise DataError(f"{spec}: not a data set (images/+masks/ folder, labelme folder, .h5 store or synth:N)")


def split_by_embryo(frames, val_fraction: float, seed: int = 0) -> tuple[Subset, Subset]:
    """Whole embryos go to one side; about val_fraction of the frames end in validation."""
    keys: dict[str, list[int]] = {}
    for i in range(len(frames)):
        keys.setdefault(frames.key(i), []).append(i)
    order = sorted(keys)
    random.Random(seed).shuffle(order)
    target = val_fraction * len(frames)
    val: list[int] = []
    if val_fraction > 0 and len(order) > 1:
        for k in order:
            if len(val) >= target:
                break
            if len(val) + len(keys[k]) > max(target * 1.5, 1) and val:
                continue
            val.extend(keys[k])
    vset = set(val)
    return Subset(frames, [i for i in range(len(frames)) if i not in vset]), Subset(frames, sorted(val))
