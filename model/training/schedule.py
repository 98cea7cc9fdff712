"""What trains when: the two-stage schedule and end-to-end training.

Two-stage (the paper's decoupled strategy; the split points are ours, the
paper does not publish them). Progress p in [0, 1] is the larger of the
epoch fraction and the time-budget fraction.

| stage | p | trains | frozen | injection | loss |
|---|---|---|---|---|---|
| 1 "segment" | [0, 0.6) | backbone, ASPP, decoder, gates, injection conv, classifier | regression head | off (zeros) | CE + Dice |
| 2a "regress" | [0.6, 0.8) | regression head | everything else, backbone BN in eval | off | smooth L1 + Range |
| 2b "inject" | [0.8, 1] | head (lr x1), injection conv + classifier (lr x0.1) | backbone (BN eval), ASPP, decoder, gates | on | CE + Dice + smooth L1 + Range |

Why: stage 1 learns boundaries undisturbed by the grading objective; 2a
fits the head on features that no longer move; 2b lets grading priors reach
the mask through the injection conv, whose latent columns start at zero
(identity at the switch) and move with a small LR so boundaries keep their
stage-1 quality. The frozen parts' BatchNorm layers are put in eval mode so
their running statistics stop drifting, too.

End-to-end: every part, all losses, injection on, from the first step.

Head (stage 2 alone, on a model whose segmentation is already trained, for
example after end-to-end training or a fine-tune): "regress" for the first
half of the budget, then "inject", exactly as in stages 2a and 2b above.
With ``--reset-head`` the regression head starts afresh and the injection
conv's latent columns return to zero, so the mask is the one without
injection until 2b trains the injection again.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

STAGE_BOUNDS = (0.6, 0.8)
HEAD_SPLIT = 0.5  # "head" mode: regress before, inject after
MODES = ("two-stage", "end-to-end", "head")
SMALL_LR = 0.1  # multiplier of the base LR for the injection path in stage 2b


@dataclass(frozen=True)
class Stage:
    name: str
    lr: dict[str, float]  # parameter group -> LR multiplier; absent groups are frozen
    injection: bool
    seg_loss: bool
    reg_loss: bool
    bn_eval: tuple[str, ...] = ()  # module attributes whose BN layers run in eval mode


ALL = ("backbone", "aspp", "decoder", "gates", "head", "injection", "classifier")
END_TO_END = Stage("end-to-end", {g: 1.0 for g in ALL}, True, True, True)
SEGMENT = Stage("segment", {g: 1.0 for g in ALL if g != "head"}, False, True, False)
REGRESS = Stage("regress", {"head": 1.0}, False, False, True,
                bn_eval=("backbone", "aspp", "skip8", "skip4", "fuse8", "fuse4", "inject"))
INJECT = Stage("inject", {"head": 1.0, "injection": SMALL_LR, "classifier": SMALL_LR}, True, True, True,
               bn_eval=("backbone", "aspp", "skip8", "skip4", "fuse8", "fuse4"))


def stage_for(mode: str, progress: float, has_head: bool = True, has_injection: bool = True) -> Stage:
    if mode == "end-to-end":
        return END_TO_END
    if mode not in MODES:
        raise ValueError(f"unknown training mode {mode!r}")
    if not has_head:  # nothing to decouple: segmentation all the way
        if mode == "head":
            raise ValueError("mode 'head' needs a configuration with a regression head")
        return SEGMENT
    if mode == "head":
        return REGRESS if progress < HEAD_SPLIT or not has_injection else INJECT
    if progress < STAGE_BOUNDS[0]:
        return SEGMENT
    if progress < STAGE_BOUNDS[1] or not has_injection:
        return REGRESS
    return INJECT


def apply_stage(model: nn.Module, stage: Stage) -> dict[str, float]:
    """Set requires_grad, BN modes and the injection switch; return the LR multipliers in use."""
    groups = model.parameter_groups()
    for name, params in groups.items():
        for p in params:
            p.requires_grad_(name in stage.lr)
    model.train()
    for attr in stage.bn_eval:
        sub = getattr(model, attr, None)
        if sub is not None:
            for m in sub.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
    if model.config.feature_injection:
        model.injection_enabled = stage.injection
    return {g: m for g, m in stage.lr.items() if groups.get(g)}


def freeze_all_bn(model: nn.Module) -> None:
    """--freeze-bn: every BN layer uses its running statistics (tiny fine-tuning batches)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
