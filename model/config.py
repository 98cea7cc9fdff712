"""Network configurations.

The paper (arXiv 2511.18454) fixes the parts but not their sizes; every
choice not stated there is a field here with its reason. Configurations are
JSON-able so that a checkpoint can rebuild its network without pickled code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class ModelConfig:
    name: str = "attnregdeeplab"
    depth: int = 18  # 18, 34 or 50 (50 is the paper's)
    width: float = 0.5  # channel multiplier; 0.5 of ResNet-18 is the fast CPU default
    output_stride: int = 16  # 16 (paper) or 8
    # One gray channel: microscopes differ in tint (Hoffman, DIC, time-lapse
    # gray), morphology does not; gray input removes a nuisance variable.
    in_channels: int = 1
    num_classes: int = 3  # 0 background, 1 blastomere, 2 fragment
    aspp_channels: int = 256
    decoder_channels: int = 256
    skip_channels: int = 48  # per Chen et al. 2018
    attention_gates: bool = True
    gate_channels: int = 64  # inner width of each gate (W_x, W_g -> this, psi -> 1)
    regression_head: bool = True
    latent_dim: int = 64
    feature_injection: bool = True
    input_size: int = 384  # side of the square crop fed to the network (see predictor)

    def scaled(self, channels: int) -> int:
        return max(8, int(round(channels * self.width)))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown configuration fields: {sorted(unknown)}")
        cfg = cls(**data)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.depth not in (18, 34, 50):
            raise ValueError(f"depth must be 18, 34 or 50, not {self.depth}")
        if self.output_stride not in (8, 16):
            raise ValueError(f"output_stride must be 8 or 16, not {self.output_stride}")
        if not 0.1 <= self.width <= 2.0:
            raise ValueError(f"width must be in [0.1, 2], not {self.width}")
        if self.feature_injection and not self.regression_head:
            raise ValueError("feature injection needs the regression head's latent")
        if self.input_size % 32:
            raise ValueError("input_size must be a multiple of 32")


# Ablation ladder: each step adds one part of the paper's design.
NAMED_CONFIGS: dict[str, dict] = {
    "deeplabv3plus": dict(attention_gates=False, regression_head=False, feature_injection=False),
    "gates": dict(attention_gates=True, regression_head=False, feature_injection=False),
    "gates_head": dict(attention_gates=True, regression_head=True, feature_injection=False),
    "attnregdeeplab": dict(attention_gates=True, regression_head=True, feature_injection=True),
}


def named_config(name: str, **overrides) -> ModelConfig:
    if name not in NAMED_CONFIGS:
        raise KeyError(f"unknown configuration {name!r}; choose one of {sorted(NAMED_CONFIGS)}")
    cfg = replace(ModelConfig(), name=name, **NAMED_CONFIGS[name], **overrides)
    cfg.validate()
    return cfg


# The paper-size network for GPU training (docs/model-card.md).
PAPER_OVERRIDES = dict(depth=50, width=1.0, output_stride=16, input_size=512)
