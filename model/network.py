"""AttnRegDeepLab (arXiv 2511.18454) and its ablations.

DeepLabV3+ on a dilated ResNet, whose decoder skips (strides 8 and 4) pass
through attention gates; a multi-scale regression head regresses the
fragment fraction; feature injection concatenates the head's latent vector,
broadcast over the grid, to the decoder map before the classifier.

All configurations share one decoder topology (two skips, strides 8 and 4)
so that the ablation isolates the gates, the head and the injection rather
than a change of decoder: our "vanilla" baseline is DeepLabV3+ with that
two-skip decoder, ungated (Chen et al.'s has the stride-4 skip only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from model.aspp import ASPP, conv_bn_relu
from model.attention import AttentionGate
from model.backbone import DilatedResNet, init_weights
from model.config import ModelConfig
from model.regression import MultiScaleRegressionHead


@dataclass
class NetOutput:
    logits: torch.Tensor  # (N, classes, H, W) at the input's resolution
    fraction: torch.Tensor | None  # (N,) in [0, 1], None without the head
    latent: torch.Tensor | None  # (N, latent_dim)
    attention: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> (N, 1, h, w)


class AttnRegDeepLab(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        c = config
        self.backbone = DilatedResNet(c.depth, c.width, c.in_channels, c.output_stride)
        _, c8, c16, c32 = self.backbone.channels
        c4 = self.backbone.channels[0]
        aspp_c, dec_c = c.scaled(c.aspp_channels), c.scaled(c.decoder_channels)
        skip_c, gate_c = c.scaled(c.skip_channels), c.scaled(c.gate_channels)
        self.aspp = ASPP(c32, aspp_c, c.output_stride)

        self.skip8 = conv_bn_relu(c8, skip_c, 1)
        self.skip4 = conv_bn_relu(c4, skip_c, 1)
        if c.attention_gates:
            self.gate8 = AttentionGate(skip_c, aspp_c, gate_c)
            self.gate4 = AttentionGate(skip_c, dec_c, gate_c)
        self.fuse8 = conv_bn_relu(aspp_c + skip_c, dec_c, 3)
        self.fuse4 = nn.Sequential(conv_bn_relu(dec_c + skip_c, dec_c, 3), conv_bn_relu(dec_c, dec_c, 3))

        self.head = None
        if c.regression_head:
            self.head = MultiScaleRegressionHead((c8, c16, aspp_c), c.scaled(256), c.latent_dim)
        inject_c = c.latent_dim if c.feature_injection else 0
        self.inject = nn.Sequential(conv_bn_relu(dec_c + inject_c, dec_c, 3))
        self.classifier = nn.Conv2d(dec_c, c.num_classes, 1)
        # The backbone initialises itself; these are the new parts.
        for part in (self.aspp, self.skip8, self.skip4, self.fuse8, self.fuse4, self.inject):
            init_weights(part)
        if inject_c:
            # Latent channels of the injection conv start at zero, so switching
            # injection on (stage 2 of two-stage training) begins as the
            # identity and cannot disturb the stage-1 boundaries.
            with torch.no_grad():
                self.inject[0][0].weight[:, dec_c:].zero_()
        self.injection_enabled = c.feature_injection

    def forward(self, x: torch.Tensor) -> NetOutput:
        size = x.shape[-2:]
        f = self.backbone(x)
        a = self.aspp(f["layer4"])
        attention: dict[str, torch.Tensor] = {}

        s8 = self.skip8(f["stride8"])
        if self.config.attention_gates:
            s8, attention["gate_stride8"] = self.gate8(s8, a)
        d = F.interpolate(a, size=s8.shape[-2:], mode="bilinear", align_corners=False)
        d = self.fuse8(torch.cat([d, s8], dim=1))

        s4 = self.skip4(f["stride4"])
        if self.config.attention_gates:
            s4, attention["gate_stride4"] = self.gate4(s4, d)
        d = F.interpolate(d, size=s4.shape[-2:], mode="bilinear", align_corners=False)
        d = self.fuse4(torch.cat([d, s4], dim=1))

        fraction = latent = None
        if self.head is not None:
            fraction, latent = self.head([f["stride8"], f["layer3"], a])
        if self.config.feature_injection:
            d = self._inject(d, latent if self.injection_enabled else None)
        else:
            d = self.inject(d)
        logits = self.classifier(d)
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        return NetOutput(logits=logits, fraction=fraction, latent=latent, attention=attention)

    def _inject(self, d: torch.Tensor, latent: torch.Tensor | None) -> torch.Tensor:
        """conv3x3(concat(d, latent broadcast over the grid)) -> BN -> ReLU, computed cheaply.

        The paper concatenates the latent to every pixel. A 3x3 convolution of
        a map that is constant over the grid is, for each of the 9 taps, a
        constant vector W_tap @ z, counted only where the tap falls inside the
        image (zero padding). So the latent's part is a per-sample 3x3 kernel
        applied to a map of ones: the same result as the concatenation, at
        1/latent_dim of its cost (the concatenated conv made the decoder's
        most expensive layer 50 % dearer).
        """
        conv, bn, relu = self.inject[0]
        dec_c = d.shape[1]
        w = conv.weight
        y = F.conv2d(d, w[:, :dec_c], padding=1)
        if latent is not None:
            n, c = latent.shape[0], w.shape[0]
            taps = torch.einsum("olij,nl->noij", w[:, dec_c:], latent).reshape(n * c, 1, 3, 3)
            ones = d.new_ones(1, n, d.shape[2], d.shape[3])
            y = y + F.conv2d(ones, taps, padding=1, groups=n).reshape(n, c, d.shape[2], d.shape[3])
        return relu(bn(y))

    def reset_regression_head(self) -> None:
        """A fresh head (its first initialisation) and injection back to the identity.

        For refitting the regression path on a trained segmenter ("head" mode):
        the latent changes meaning, so the injection conv's latent columns,
        trained on the old one, are zeroed: the mask is then exactly the one
        the network gives with injection off, until injection is trained again.
        """
        if self.head is None:
            raise ValueError("this configuration has no regression head")
        for m in self.head.modules():
            if m is not self.head and hasattr(m, "reset_parameters"):
                m.reset_parameters()
        if self.config.feature_injection:
            with torch.no_grad():
                self.inject[0][0].weight[:, -self.config.latent_dim:].zero_()

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by part, for the freezing schedule of two-stage training."""
        groups: dict[str, list[nn.Parameter]] = {
            "backbone": list(self.backbone.parameters()),
            "aspp": list(self.aspp.parameters()),
            "decoder": [p for m in (self.skip8, self.skip4, self.fuse8, self.fuse4) for p in m.parameters()],
            "gates": [],
            "head": list(self.head.parameters()) if self.head is not None else [],
            "injection": list(self.inject.parameters()),
            "classifier": list(self.classifier.parameters()),
        }
        if self.config.attention_gates:
            groups["gates"] = list(self.gate8.parameters()) + list(self.gate4.parameters())
        return groups


def build_model(config: ModelConfig) -> AttnRegDeepLab:
    return AttnRegDeepLab(config)
