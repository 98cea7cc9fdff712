"""Training samples: a labelled frame turned into what the network sees at inference.

A ``FrameSample`` is one labelled image from any source (folder, labelme,
annotation store, synthetic); readers live in ``app/core/datasets.py``.
``make_sample`` reproduces the predictor's geometry (``model/predictor.py``)
with noise: most samples are square crops around the ground-truth embryo
(``preprocess.embryo_box`` of blastomere+fragment, margin drawn around the
predictor's CROP_MARGIN, centre and side jittered), the rest are whole
frames letterboxed by ``whole_frame_box`` so the coarse pass learns to find
embryos in full frames. Both go through the same crop/resize/normalise as
``preprocess.network_input``; masks are resized nearest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from model import preprocess as pp
from model.grading import fragment_fraction, get_scheme
from model.training import augment

IGNORE = 255  # mask value of pixels without a label (grade-only samples)


@dataclass
class FrameSample:
    image: np.ndarray  # uint8/uint16 gray or RGB, any size
    mask: np.ndarray | None  # uint8 0/1/2 at the image's size, None for grade-only labels
    fraction: float | None = None  # fragment fraction in [0, 1]; from the mask when None
    grade: str | None = None  # grade label (grade-only samples: the Range loss uses it)
    scheme: str = "istanbul"
    key: str = ""  # embryo key: frames sharing it never straddle the train/val split
    source: str = ""
    meta: dict = field(default_factory=dict)

    def target_fraction(self) -> float:
        if self.fraction is not None:
            return float(self.fraction)
        if self.mask is not None:
            f = fragment_fraction(self.mask)
            return 0.0 if math.isnan(f) else f
        return float("nan")

    def interval(self) -> tuple[float, float]:
        if self.grade is None:
            return float("nan"), float("nan")
        return get_scheme(self.scheme).interval(self.grade)


@dataclass(frozen=True)
class SampleSpec:
    size: int
    whole_frame_p: float = 0.25
    margin: tuple[float, float] = (0.15, 0.4)
    jitter: float = 0.10  # of the box side, centre shift each axis
    side_jitter: float = 0.08  # relative change of the side
    augment: bool = True


def crop_box(frame: FrameSample, rng: np.random.Generator | None, spec: SampleSpec) -> pp.Box:
    h, w = frame.image.shape[:2]
    if frame.mask is None:
        return pp.whole_frame_box(h, w)  # no truth to locate the embryo by
    if rng is not None and rng.random() < spec.whole_frame_p:
        return pp.whole_frame_box(h, w)
    margin = pp.CROP_MARGIN if rng is None else float(rng.uniform(*spec.margin))
    box = pp.embryo_box(frame.mask > 0, margin)
    if box is None:
        return pp.whole_frame_box(h, w)
    if rng is None:
        return box
    side = box.side * (1 + rng.uniform(-spec.side_jitter, spec.side_jitter))
    # Jitter bounded so the embryo stays inside the crop: the regression
    # target is the whole frame's fraction.
    room = max(0.0, (side - box.side / (1 + 2 * margin)) / 2)
    dx, dy = np.clip(rng.uniform(-spec.jitter, spec.jitter, 2) * side, -room, room)
    cx, cy = box.x0 + box.side / 2 + dx, box.y0 + box.side / 2 + dy
    side = int(round(side))
    return pp.Box(int(round(cx - side / 2)), int(round(cy - side / 2)), max(side, 16))


def make_sample(frame: FrameSample, rng: np.random.Generator | None, spec: SampleSpec) -> dict:
    """Tensors for one training (rng given) or validation (rng None: predictor's box) sample."""
    gray = pp.to_gray01(frame.image)
    box = crop_box(frame, rng, spec)
    g = pp.resize(pp.crop(gray, box), spec.size)
    m = None if frame.mask is None else pp.resize(pp.crop(frame.mask, box), spec.size, nearest=True)
    if rng is not None and spec.augment:
        g, m = augment.geometric(g, m, rng)
        g = augment.photometric(g, rng)
    x = pp.normalise(g)
    lo, hi = frame.interval()
    return {
        "image": torch.from_numpy(np.ascontiguousarray(x))[None],
        "mask": torch.from_numpy(np.full((spec.size, spec.size), IGNORE, np.int64) if m is None
                                 else np.ascontiguousarray(m).astype(np.int64)),
        "has_mask": torch.tensor(m is not None),
        "fraction": torch.tensor(frame.target_fraction(), dtype=torch.float32),
        "interval": torch.tensor([lo, hi], dtype=torch.float32),
    }


class TrainingSet(torch.utils.data.Dataset):
    """Frames (anything with __len__ and get(i) -> FrameSample) as a torch dataset.

    Randomness per item comes from (seed, epoch, index), so a resumed or
    distributed run draws the same augmentations as an uninterrupted one.
    """

    def __init__(self, frames, spec: SampleSpec, seed: int = 0, train: bool = True):
        self.frames, self.spec, self.seed, self.train = frames, spec, seed, train
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.frames, "set_epoch"):
            self.frames.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> dict:
        frame = self.frames.get(i)
        rng = np.random.default_rng([self.seed, self.epoch, i]) if self.train else None
        return make_sample(frame, rng, self.spec)
