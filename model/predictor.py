"""The predictor: the one entry to the model for the GUI, the command line and the tests.

Input: a numpy image of any size, uint8 or uint16, gray or RGB. Output: a
``Prediction`` of numpy arrays at the input's resolution. Two passes: a
coarse pass over the whole frame finds the embryo, a fine pass grades a
crop around it at the network's input size, averaged with its mirror image.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from model import preprocess as pp
from model.calibration import Calibration
from model.checkpoint import LoadedCheckpoint, load_checkpoint
from model.device import (
    autocast,
    cap_cpu_threads,
    resolve_device,
    resolve_precision,
    use_channels_last,
)
from model.grading import BORDERLINE_POINTS, DEFAULT_SCHEME, get_scheme
from model.network import AttnRegDeepLab

# Mask and regression fractions further apart than this (points) are flagged:
# one of the two is wrong, and the user should look.
DISAGREEMENT_POINTS = 5.0
MIN_EMBRYO_FRACTION = 0.002  # of the frame's area, below it "no embryo found"
# The warning's prefix is what app.core.embryo_presence reads: such a frame gets no grade.
SEVERAL_EMBRYOS = "several embryos in the frame"


@dataclass
class Prediction:
    class_mask: np.ndarray  # uint8 HxW: 0 background, 1 blastomere, 2 fragment
    probabilities: np.ndarray  # float32 HxWx3
    attention: dict[str, np.ndarray]  # gate name -> float32 HxW in [0, 1] (0 outside the crop)
    fraction_mask: float  # fragment / (blastomere + fragment) from class_mask, [0, 1]
    fraction_regression: float  # from the regression head, [0, 1]; NaN without a head
    grade: str  # from fraction_mask under `scheme`
    scheme: str
    uncertainty: float  # percentage points, see _uncertainty
    borderline: bool  # within BORDERLINE_POINTS of a cut-off (either fraction)
    disagreement: bool  # the two fractions differ by more than DISAGREEMENT_POINTS
    model_version: str
    embryo_box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the graded crop
    warnings: list[str] = field(default_factory=list)
    # With a calibrated model (model/calibration.py) ``uncertainty`` is the half-width of an
    # interval around fragment_pct_mask that held the truth on this share of held-out frames.
    interval_coverage: float | None = None
    ood_score: float = float("nan")  # RMS z-score of the latent against the training frames
    unusual: bool = False  # ood_score above the training frames' 99th percentile
    latent: np.ndarray | None = None  # the regression head's latent (mean of the views); not cached

    @property
    def fragment_pct_mask(self) -> float:
        return 100.0 * self.fraction_mask

    @property
    def fragment_pct_regression(self) -> float:
        return 100.0 * self.fraction_regression

    def regrade(self, scheme: str) -> Prediction:
        """The same prediction under another grading scheme (arrays are shared, not copied)."""
        import dataclasses

        sch = get_scheme(scheme)
        pct_m, pct_r = self.fragment_pct_mask, self.fragment_pct_regression
        has_r = not math.isnan(pct_r)
        borderline = sch.is_borderline(pct_m) or (has_r and sch.is_borderline(pct_r))
        borderline = borderline or (has_r and sch.grade(pct_m) != sch.grade(pct_r))
        return dataclasses.replace(self, scheme=sch.key, grade=sch.grade(pct_m), borderline=bool(borderline))

    def summary(self) -> dict:
        """The JSON-able numbers (no arrays)."""
        reg = self.fragment_pct_regression
        return {
            "fragment_pct_mask": round(self.fragment_pct_mask, 2),
            "fragment_pct_regression": None if math.isnan(reg) else round(reg, 2),
            "grade": self.grade,
            "scheme": self.scheme,
            "uncertainty": round(self.uncertainty, 2),
            "borderline": self.borderline,
            "disagreement": self.disagreement,
            "model_version": self.model_version,
            "embryo_box": list(self.embryo_box),
            "warnings": list(self.warnings),
            "interval_coverage": self.interval_coverage,
            "ood_score": None if math.isnan(self.ood_score) else round(self.ood_score, 3),
            "unusual": self.unusual,
        }


class Predictor:
    def __init__(
        self,
        model: AttnRegDeepLab,
        version: str = "unversioned",
        device: str = "auto",
        threads: int | None = None,
        metadata: dict | None = None,
        tta: bool = True,
        precision: str = "auto",
    ):
        self.threads = cap_cpu_threads(threads)
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        # bf16 autocast and NHWC where the device has native bf16 (docs/results.md: same masks
        # on the real frames, fraction within a tenth of a point; the three passes 2x faster).
        self.precision = resolve_precision(precision, self.device)
        self._nhwc = use_channels_last(self.device)
        if self._nhwc:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.config = model.config
        self.version = version
        self.metadata = dict(metadata or {})
        self.tta = tta
        self.notices: list[str] = []  # e.g. a CUDA out-of-memory fallback, for the status bar
        self.calibration = Calibration.from_metadata(self.metadata)
        # One image at a time through the network: the GUI may ask from a
        # prefetch worker and a "grade all" worker at once.
        self._lock = threading.Lock()
        self.last_thread: int | None = None  # the thread that last ran the model (tests)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device: str = "auto", threads: int | None = None,
                        tta: bool = True, precision: str = "auto") -> Predictor:
        ck: LoadedCheckpoint = load_checkpoint(path)
        return cls(ck.model, ck.version, device=device, threads=threads, metadata=ck.metadata, tta=tta,
                   precision=precision)

    # -- public API -------------------------------------------------------------------------
    def predict(self, image: np.ndarray, scheme: str = DEFAULT_SCHEME) -> Prediction:
        return self.predict_batch([image], scheme=scheme)[0]

    def predict_batch(self, images: Iterable[np.ndarray], scheme: str = DEFAULT_SCHEME,
                      batch_size: int = 4) -> list[Prediction]:
        get_scheme(scheme)  # fail early on a bad scheme name
        images = list(images)
        for i, img in enumerate(images):
            _check_image(img, i)
        with self._lock, torch.inference_mode():
            self.last_thread = threading.get_ident()
            grays = [pp.to_gray01(img) for img in images]
            boxes, warnings = self._locate(grays, batch_size)
            out: list[Prediction] = []
            # Fine passes of several images in one forward: the views of `batch_size` images
            # at a time (2 each with mirror averaging) keep the CPU's cores busy.
            for start in range(0, len(grays), batch_size):
                chunk = range(start, min(len(grays), start + batch_size))
                views = [self._views(grays[i], boxes[i]) for i in chunk]
                probs, frac, att, latent = self._run(np.concatenate(views))
                o = 0
                for i, v in zip(chunk, views):
                    n = len(v)
                    sl = slice(o, o + n)
                    out.append(self._finish(grays[i], boxes[i], scheme, warnings[i], probs[sl],
                                            None if frac is None else frac[sl], {k: a[sl] for k, a in att.items()},
                                            None if latent is None else latent[sl]))
                    o += n
            return out

    # -- passes -----------------------------------------------------------------------------
    def _run(self, batch: np.ndarray):
        """(probabilities, regressed fractions, attention maps, latent vectors) as numpy."""
        x = torch.from_numpy(batch[:, None]).to(self.device)
        if self._nhwc:
            x = x.contiguous(memory_format=torch.channels_last)
        try:
            with autocast(self.device, self.precision):
                out = self.model(x)
        except torch.OutOfMemoryError:
            if self.device.type != "cuda":
                raise
            torch.cuda.empty_cache()
            self.model = self.model.to("cpu")
            self.device = torch.device("cpu")
            self.notices.append("CUDA ran out of memory: grading continues on the CPU")
            self.precision = resolve_precision("auto", self.device)
            with autocast(self.device, self.precision):
                out = self.model(x.cpu())
        probs = torch.softmax(out.logits.float(), dim=1).cpu().numpy()
        frac = None if out.fraction is None else out.fraction.float().cpu().numpy()
        att = {k: v.float().cpu().numpy()[:, 0] for k, v in out.attention.items()}
        latent = None if out.latent is None else out.latent.float().cpu().numpy()
        return probs, frac, att, latent

    def _locate(self, grays: list[np.ndarray], batch_size: int) -> tuple[list[pp.Box], list[list[str]]]:
        size = self.config.input_size
        frames = [pp.whole_frame_box(*g.shape) for g in grays]
        boxes, warnings = [], []
        for start in range(0, len(grays), batch_size):
            chunk = list(range(start, min(len(grays), start + batch_size)))
            batch = np.stack([pp.network_input(grays[i], frames[i], size) for i in chunk])
            probs = self._run(batch)[0]
            for j, i in enumerate(chunk):
                fg = probs[j, 1] + probs[j, 2] > 0.5
                h, w = grays[i].shape
                box_small = pp.embryo_box(fg)
                area = fg.sum() / fg.size * (frames[i].side ** 2) / (h * w)
                if box_small is None or area < MIN_EMBRYO_FRACTION:
                    boxes.append(frames[i])
                    warnings.append(["no embryo found on the coarse pass: graded the whole frame"])
                    continue
                s = frames[i].side / size
                boxes.append(pp.Box(frames[i].x0 + int(round(box_small.x0 * s)),
                                    frames[i].y0 + int(round(box_small.y0 * s)),
                                    int(round(box_small.side * s))))
                n = _embryo_count(fg)
                warnings.append([f"{SEVERAL_EMBRYOS}: {n} embryo-sized objects on the coarse pass; not graded"]
                                if n > 1 else [])
        return boxes, warnings

    def _views(self, gray: np.ndarray, box: pp.Box) -> np.ndarray:
        x = pp.network_input(gray, box, self.config.input_size)
        return np.stack([x, x[:, ::-1]] if self.tta else [x])

    def _finish(self, gray: np.ndarray, box: pp.Box, scheme: str, warnings: list[str], probs: np.ndarray,
                frac: np.ndarray | None, att: dict[str, np.ndarray], latent: np.ndarray | None) -> Prediction:
        """One image's prediction from the network's outputs on its views."""
        if self.tta:  # un-mirror the flipped view before averaging
            probs[1] = probs[1][:, :, ::-1]
            for k in att:
                att[k][1] = att[k][1][:, ::-1]
        view_fracs = [_mask_fraction(p.argmax(0)) for p in probs]
        mean_probs = probs.mean(0).transpose(1, 2, 0)  # size x size x 3

        h, w = gray.shape
        crop_probs = cv2.resize(mean_probs, (box.side, box.side), interpolation=cv2.INTER_LINEAR)
        full = np.zeros((h, w, 3), np.float32)
        full[..., 0] = 1.0
        pp.paste(full, crop_probs, box)
        # Arg-max inside the crop only: outside it everything is background already, and the
        # full frame's three float channels cost 3x more to scan (same mask, bit for bit).
        class_mask = np.zeros((h, w), np.uint8)
        pp.paste(class_mask, crop_probs.argmax(2).astype(np.uint8), box)

        attention = {}
        for k, a in att.items():
            m = cv2.resize(a.mean(0), (box.side, box.side), interpolation=cv2.INTER_LINEAR)
            full_a = np.zeros((h, w), np.float32)
            pp.paste(full_a, np.clip(m, 0, 1), box)
            attention[k] = full_a

        f_mask = _mask_fraction(class_mask)
        if math.isnan(f_mask):
            warnings = warnings + ["no blastomere or fragment pixels found: fragmentation set to 0"]
            f_mask = 0.0
        f_reg = float(np.mean(frac)) if frac is not None else float("nan")
        pct_m, pct_r = 100 * f_mask, 100 * f_reg
        unc = _uncertainty(view_fracs, frac, f_mask, f_reg)
        latent = None if latent is None else latent.mean(0)
        coverage, ood, unusual = None, float("nan"), False
        cal = self.calibration
        if cal is not None:
            unc, coverage = cal.half_width(unc, pct_m), cal.coverage
            ood = cal.ood_score(latent)
            unusual = bool(ood > cal.ood_threshold)
            if unusual:
                warnings = warnings + [f"unlike the images this model was trained on (score {ood:.1f} > "
                                       f"{cal.ood_threshold:.1f}): check this grade with extra care"]
        disagreement = not math.isnan(pct_r) and abs(pct_m - pct_r) > DISAGREEMENT_POINTS
        return Prediction(
            class_mask=class_mask,
            probabilities=full,
            attention=attention,
            fraction_mask=f_mask,
            fraction_regression=f_reg,
            grade="",
            scheme=scheme,
            uncertainty=unc,
            borderline=False,
            disagreement=bool(disagreement),
            model_version=self.version,
            embryo_box=box.as_tuple(),
            warnings=list(warnings),
            interval_coverage=coverage,
            ood_score=ood,
            unusual=unusual,
            latent=latent,
        ).regrade(scheme)


def _embryo_count(fg: np.ndarray) -> int:
    """Embryo-sized blobs of the coarse pass, apart from one another (a tiled image, a well overview).

    A blob counts when it is at least 40 % of the largest and lies more than
    one largest-blob side from it: cells of one embryo that the coarse pass
    splits, fragments and debris stay within that reach or are far smaller.
    """
    n, _, stats, cents = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    if n <= 2:
        return max(n - 1, 0)
    areas = stats[1:, cv2.CC_STAT_AREA]
    k = int(np.argmax(areas))
    reach = float(max(stats[1 + k, cv2.CC_STAT_WIDTH], stats[1 + k, cv2.CC_STAT_HEIGHT]))
    count = 1
    for j in range(n - 1):
        if j != k and areas[j] >= 0.4 * areas[k] and np.hypot(*(cents[1 + j] - cents[1 + k])) > reach:
            count += 1
    return count


def _mask_fraction(mask: np.ndarray) -> float:
    frag = int(np.count_nonzero(mask == 2))
    cyto = frag + int(np.count_nonzero(mask == 1))
    return float("nan") if cyto == 0 else frag / cyto


def _uncertainty(view_fracs: list[float], reg: np.ndarray | None, f_mask: float, f_reg: float) -> float:
    """How sure the grade is, in percentage points.

    Root-sum-square of (a) the spread of the mask fraction over the mirrored
    views, (b) the spread of the regressed fraction over them, and (c) half
    the gap between the mask and regression fractions: two independent
    estimators that disagree mean that at least one is off by about that much.
    """
    vf = [v for v in view_fracs if not math.isnan(v)]
    a = (max(vf) - min(vf)) / 2 if len(vf) > 1 else 0.0
    b = float(np.ptp(reg)) / 2 if reg is not None and len(reg) > 1 else 0.0
    c = abs(f_mask - f_reg) / 2 if not math.isnan(f_reg) else 0.0
    return 100.0 * math.sqrt(a * a + b * b + c * c)


def _check_image(img: np.ndarray, index: int) -> None:
    if not isinstance(img, np.ndarray):
        raise TypeError(f"image {index}: expected a numpy array, got {type(img).__name__}")
    if img.dtype not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"image {index}: pixel type {img.dtype} not supported (uint8, uint16)")
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise ValueError(f"image {index}: shape {img.shape} is neither gray HxW nor RGB HxWx3")
    if min(img.shape[:2]) < 16:
        raise ValueError(f"image {index}: too small ({img.shape[1]}x{img.shape[0]})")


__all__ = ["Prediction", "Predictor", "BORDERLINE_POINTS", "DISAGREEMENT_POINTS"]
