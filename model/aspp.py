"""Atrous Spatial Pyramid Pooling (Chen et al. 2017/2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(cin: int, cout: int, k: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = 0 if k == 1 else dilation
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ASPP(nn.Module):
    """1x1 conv, three 3x3 atrous convs, image pooling, then a 1x1 projection."""

    def __init__(self, cin: int, cout: int, output_stride: int = 16):
        super().__init__()
        # Rates 6/12/18 at stride 16; doubled at stride 8 to keep the same
        # field of view in image pixels.
        rates = (6, 12, 18) if output_stride == 16 else (12, 24, 36)
        self.branches = nn.ModuleList(
            [conv_bn_relu(cin, cout, 1)] + [conv_bn_relu(cin, cout, 3, r) for r in rates]
        )
        # No BatchNorm on the pooled branch: it sees one value per channel per
        # image, and BN over a batch of 1 during fine-tuning would be undefined.
        self.pool = nn.Sequential(nn.Conv2d(cin, cout, 1), nn.ReLU(inplace=True))
        self.project = nn.Sequential(conv_bn_relu(5 * cout, cout, 1), nn.Dropout2d(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [b(x) for b in self.branches]
        pooled = self.pool(F.adaptive_avg_pool2d(x, 1))
        outs.append(pooled.expand(-1, -1, x.shape[2], x.shape[3]))
        return self.project(torch.cat(outs, dim=1))
