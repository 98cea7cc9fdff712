"""What the shown ± means, and when an image is unlike the training data.

The predictor's raw spread (mirror views, mask against regression; see
``predictor._uncertainty``) ranks frames by doubt but is not an interval:
on real frames the mask fraction was off by 10 points where the raw spread
said 1. A calibration, fitted on held-out predictions (leave-one-embryo-out
real frames and synthetic frames the model never saw), turns it into a
half-width that covers the truth on a stated share of frames:

    half-width = offset + scale * raw + slope * mask %

(errors grow with the fraction; the offset covers the floor of annotation
and model error). The fit takes the narrowest such band, on average, whose
coverage on the fitting rows is at least the target.

Out of distribution: the RMS z-score of the regression head's latent vector
(the embryo summarised in 64 numbers) against its mean and spread on the
training frames; above the 99th percentile of those frames it is "unusual".

Stored in the checkpoint's metadata under ``"calibration"`` (plain numbers,
validated on load: metadata comes from a file that may be hostile).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

TARGET_COVERAGE = 0.8


@dataclass
class Calibration:
    coverage: float = TARGET_COVERAGE
    offset: float = 0.0
    scale: float = 1.0
    slope: float = 0.0
    latent_mean: list[float] = field(default_factory=list)
    latent_std: list[float] = field(default_factory=list)
    ood_threshold: float = math.inf
    fitted_on: str = ""
    measured: dict = field(default_factory=dict)  # coverage per source, for the model card

    def half_width(self, raw: float, mask_pct: float) -> float:
        return max(0.0, self.offset + self.scale * raw + self.slope * mask_pct)

    def ood_score(self, latent: np.ndarray | None) -> float:
        if latent is None or not self.latent_mean or len(latent) != len(self.latent_mean):
            return math.nan
        mu = np.asarray(self.latent_mean, np.float64)
        sd = np.maximum(np.asarray(self.latent_std, np.float64), 1e-6)
        return float(np.sqrt(np.mean(((np.asarray(latent, np.float64) - mu) / sd) ** 2)))

    def to_dict(self) -> dict:
        d = asdict(self)
        if not math.isfinite(d["ood_threshold"]):  # JSON has no infinity: None means "never unusual"
            d["ood_threshold"] = None
        return d

    @classmethod
    def from_metadata(cls, metadata: dict | None) -> Calibration | None:
        raw = (metadata or {}).get("calibration")
        if not isinstance(raw, dict):
            return None
        try:
            c = cls(coverage=float(raw["coverage"]), offset=float(raw["offset"]), scale=float(raw["scale"]),
                    slope=float(raw["slope"]),
                    latent_mean=[float(v) for v in raw.get("latent_mean", [])],
                    latent_std=[float(v) for v in raw.get("latent_std", [])],
                    ood_threshold=float(math.inf if raw.get("ood_threshold") is None else raw["ood_threshold"]),
                    fitted_on=str(raw.get("fitted_on", ""))[:500],
                    measured=raw.get("measured", {}) if isinstance(raw.get("measured"), dict) else {})
        except (KeyError, TypeError, ValueError):
            return None
        finite = all(math.isfinite(v) for v in (c.coverage, c.offset, c.scale, c.slope))
        if not finite or not 0 < c.coverage < 1 or len(c.latent_mean) != len(c.latent_std):
            return None
        return c


def fit_interval(raw, mask_pct, error, coverage: float = TARGET_COVERAGE) -> tuple[float, float, float]:
    """(offset, scale, slope) of the narrowest band covering ``coverage`` of |error| on these rows."""
    raw, pct, err = (np.abs(np.asarray(v, np.float64)) for v in (raw, mask_pct, error))
    best, best_width = (float(np.quantile(err, coverage)), 0.0, 0.0), math.inf
    for scale in np.arange(0.0, 4.01, 0.25):
        for slope in np.arange(0.0, 0.61, 0.05):
            # For fixed scale and slope the offset is the coverage quantile of what is left.
            need = err - scale * raw - slope * pct
            offset = max(0.0, float(np.quantile(need, coverage, method="higher")))
            width = float(np.mean(offset + scale * raw + slope * pct))
            if width < best_width - 1e-9:
                best, best_width = (offset, float(scale), float(slope)), width
    return best


def coverage_of(cal: Calibration, raw, mask_pct, error) -> float:
    hw = np.array([cal.half_width(r, p) for r, p in zip(raw, mask_pct)])
    return float(np.mean(np.abs(np.asarray(error, np.float64)) <= hw)) if len(hw) else math.nan


def fit_latent(latents: np.ndarray, quantile: float = 0.99) -> tuple[list[float], list[float], float]:
    z = np.asarray(latents, np.float64)
    mu, sd = z.mean(0), np.maximum(z.std(0), 1e-6)
    scores = np.sqrt(np.mean(((z - mu) / sd) ** 2, axis=1))
    return mu.tolist(), sd.tolist(), float(np.quantile(scores, quantile))


__all__ = ["Calibration", "TARGET_COVERAGE", "coverage_of", "fit_interval", "fit_latent"]
