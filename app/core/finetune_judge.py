"""Is a fine-tuned candidate worse than the active model? The promotion rule, and per-embryo views. Qt-free.

Both models are evaluated (``main.py evaluate --json``) on the same fixed
validation embryos; ``compare`` reads the two results. Missing numbers count
as worse: no evidence, no promotion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

KEY_METRICS = ("n_images", "fragment_dice", "fraction_mae_pts_mask", "grade_kappa_quadratic",
               "fraction_mae_pts_regression", "grade_accuracy")


@dataclass
class Tolerance:
    """How much worse than the active model a candidate may be and still be promoted."""

    max_dice_drop: float = 0.02
    max_mae_rise_pts: float = 1.0
    max_kappa_drop: float | None = None  # None: κ is shown, not enforced (noisy on small sets)


def key_metrics(result: dict) -> dict:
    return {k: result.get(k) for k in KEY_METRICS}


def per_embryo(result: dict) -> dict[str, dict]:
    """Per embryo: images, fraction MAE (points) and grade agreement, from evaluate's rows."""
    groups: dict[str, list[dict]] = {}
    for r in result.get("images", []):
        groups.setdefault(r.get("key") or "?", []).append(r)
    out = {}
    for k, rows in sorted(groups.items()):
        err = [abs(r["mask_pct"] - r["true_pct"]) for r in rows if r.get("mask_pct") is not None]
        dice = [r["fragment_dice"] for r in rows if r.get("fragment_dice") is not None]
        out[k] = {"n": len(rows), "mae_pts": sum(err) / len(err) if err else None,
                  "grade_agreement": sum(r["mask_grade"] == r["true_grade"] for r in rows) / len(rows),
                  "fragment_dice": sum(dice) / len(dice) if dice else None}
    return out


@dataclass
class Comparison:
    active: dict
    candidate: dict
    worse: bool
    reasons: list[str] = field(default_factory=list)

    def deltas(self) -> dict:
        return {k: (None if not _num(self.active.get(k)) or not _num(self.candidate.get(k))
                    else self.candidate[k] - self.active[k]) for k in KEY_METRICS if k != "n_images"}


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def compare(active: dict, candidate: dict, tol: Tolerance) -> Comparison:
    """The promotion rule. Missing numbers count as worse: no evidence, no promotion."""
    a, c = key_metrics(active), key_metrics(candidate)
    reasons = []
    if not (a.get("n_images") and c.get("n_images")):
        reasons.append("no validation image with a mask: the candidate cannot be checked")
    checks = [("fragment_dice", -1, tol.max_dice_drop, "fragment Dice", "{:.3f}"),
              ("fraction_mae_pts_mask", +1, tol.max_mae_rise_pts, "fraction MAE", "{:.2f} points")]
    if tol.max_kappa_drop is not None:
        checks.append(("grade_kappa_quadratic", -1, tol.max_kappa_drop, "quadratic κ", "{:.3f}"))
    for key, sign, limit, name, fmt in checks if not reasons else ():
        if not (_num(a.get(key)) and _num(c.get(key))):
            reasons.append(f"{name} could not be computed")
            continue
        change = (c[key] - a[key]) * sign  # > 0 means worse
        if change > limit + 1e-12:
            word = "rose" if sign > 0 else "fell"
            reasons.append(f"{name} {word} by {fmt.format(abs(c[key] - a[key]))} "
                           f"({fmt.format(a[key])} → {fmt.format(c[key])}; tolerance {fmt.format(limit)})")
    return Comparison(a, c, bool(reasons), reasons)
