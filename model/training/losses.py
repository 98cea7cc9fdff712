"""Training losses.

- Segmentation: cross-entropy + soft Dice over the blastomere and fragment
  classes. Dice is computed over the whole batch (pixels pooled), like the
  evaluation's Dice, so a crop without fragments neither explodes nor
  vanishes the loss. Pixels marked IGNORE (grade-only samples) count in neither.
- Regression: smooth L1 between the regressed and the true fraction.
- Range loss (grade-only labels): zero inside the grade's interval
  [lo, hi] from ``GradingScheme.interval``, smooth L1 of the distance to the
  interval outside it, so a grade constrains without inventing a number.
- Consistency (optional): the soft mask's fragment fraction against the
  regressed one; gradients reach both branches.
- False fragments (optional): the soft fragment probability summed over
  pixels whose truth is blastomere, as a share of the blastomere area: the
  "false-fragment area" the leave-one-embryo-out evaluation reports, made
  differentiable. Its gradient is largest where the network is most sure of
  a wrong fragment, so granular cytoplasm and crossing membranes (the hard
  negatives) carry it. Pooled over the batch, like Dice.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from model.training.samples import IGNORE


@dataclass(frozen=True)
class LossWeights:
    ce: float = 1.0
    dice: float = 1.0
    regression: float = 5.0  # fractions are small numbers: 5x keeps the head's gradient comparable
    range: float = 5.0
    consistency: float = 0.0
    fragment_ce_weight: float = 3.0  # fragments are ~5 % of the cytoplasm: up-weight in CE
    smooth_l1_beta: float = 0.02  # quadratic within 2 points, linear beyond
    false_fragment: float = 0.0


def dice_loss(logits: torch.Tensor, target: torch.Tensor, classes=(1, 2), eps: float = 1.0) -> torch.Tensor:
    valid = (target != IGNORE).unsqueeze(1)
    if not valid.any():
        return logits.sum() * 0.0
    probs = torch.softmax(logits.float(), dim=1)
    safe = torch.where(target == IGNORE, torch.zeros_like(target), target)
    onehot = F.one_hot(safe, logits.shape[1]).permute(0, 3, 1, 2).float()
    probs, onehot = probs * valid, onehot * valid
    losses = []
    for c in classes:
        inter = (probs[:, c] * onehot[:, c]).sum()
        denom = probs[:, c].sum() + onehot[:, c].sum()
        losses.append(1.0 - (2 * inter + eps) / (denom + eps))
    return torch.stack(losses).mean()


def false_fragment_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    cell = target == 1
    if logits.shape[1] < 3 or not cell.any():
        return logits.sum() * 0.0
    p_frag = torch.softmax(logits.float(), dim=1)[:, 2]
    return (p_frag * cell).sum() / cell.sum()


def ce_loss(logits: torch.Tensor, target: torch.Tensor, fragment_weight: float = 1.0) -> torch.Tensor:
    if not (target != IGNORE).any():
        return logits.sum() * 0.0
    w = torch.ones(logits.shape[1], device=logits.device)
    if logits.shape[1] > 2:
        w[2] = fragment_weight
    return F.cross_entropy(logits.float(), target, weight=w, ignore_index=IGNORE)


def smooth_l1(d: torch.Tensor, beta: float) -> torch.Tensor:
    a = d.abs()
    return torch.where(a < beta, 0.5 * a * a / beta, a - 0.5 * beta)


def regression_loss(pred: torch.Tensor, target: torch.Tensor, beta: float = 0.02) -> torch.Tensor:
    ok = ~torch.isnan(target)
    if not ok.any():
        return pred.sum() * 0.0
    return smooth_l1(pred[ok] - target[ok], beta).mean()


def range_loss(pred: torch.Tensor, interval: torch.Tensor, beta: float = 0.02) -> torch.Tensor:
    """Zero inside [lo, hi]; smooth L1 of the distance to the nearer end outside."""
    lo, hi = interval[:, 0], interval[:, 1]
    ok = ~torch.isnan(lo)
    if not ok.any():
        return pred.sum() * 0.0
    p = pred[ok]
    dist = F.relu(lo[ok] - p) + F.relu(p - hi[ok])
    return smooth_l1(dist, beta).mean()


def soft_fraction(logits: torch.Tensor) -> torch.Tensor:
    p = torch.softmax(logits.float(), dim=1)
    frag = p[:, 2].flatten(1).sum(1)
    cyto = frag + p[:, 1].flatten(1).sum(1)
    return frag / cyto.clamp_min(1.0)


def total_loss(out, batch: dict, w: LossWeights, seg: bool = True, reg: bool = True) -> tuple[torch.Tensor, dict]:
    """Weighted sum and its parts (floats, for the log). `seg`/`reg` switch the branches' terms."""
    parts: dict[str, torch.Tensor] = {}
    mask = batch["mask"]
    if seg:
        parts["ce"] = w.ce * ce_loss(out.logits, mask, w.fragment_ce_weight)
        parts["dice"] = w.dice * dice_loss(out.logits, mask)
        if w.false_fragment > 0:
            parts["false_frag"] = w.false_fragment * false_fragment_loss(out.logits, mask)
    if reg and out.fraction is not None:
        # Grade-only samples carry no fraction (NaN): the Range loss covers them.
        has_frac = ~torch.isnan(batch["fraction"])
        parts["reg"] = w.regression * regression_loss(out.fraction, batch["fraction"], w.smooth_l1_beta)
        interval = batch["interval"].clone()
        interval[has_frac] = float("nan")
        parts["range"] = w.range * range_loss(out.fraction, interval, w.smooth_l1_beta)
        if w.consistency > 0:
            parts["consistency"] = w.consistency * (soft_fraction(out.logits) - out.fraction).abs().mean()
    if not parts:
        raise ValueError("no loss term is active")
    total = torch.stack(list(parts.values())).sum()
    return total, {k: float(v.detach()) for k, v in parts.items()}
