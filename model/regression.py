"""Multi-Scale Regression Head: the fragmentation fraction from several scales.

Fragmentation is a ratio of areas, a global property; average pooling alone
dilutes a few small fragments into the cytoplasm, so each scale is pooled by
both mean and max (the max keeps "there is a fragment-like response here").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MultiScaleRegressionHead(nn.Module):
    def __init__(self, in_channels: tuple[int, ...], hidden: int, latent_dim: int):
        super().__init__()
        self.reduce = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, hidden // 2, 1, bias=False), nn.BatchNorm2d(hidden // 2),
                          nn.ReLU(inplace=True))
            for c in in_channels
        )
        self.mlp = nn.Sequential(
            nn.Linear(len(in_channels) * hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(0.1),
            nn.Linear(hidden, latent_dim),
            nn.ReLU(inplace=True),
        )
        self.out = nn.Linear(latent_dim, 1)

    def forward(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = []
        for f, red in zip(feats, self.reduce):
            r = red(f)
            pooled.append(F.adaptive_avg_pool2d(r, 1).flatten(1))
            pooled.append(F.adaptive_max_pool2d(r, 1).flatten(1))
        latent = self.mlp(torch.cat(pooled, dim=1))
        fraction = torch.sigmoid(self.out(latent)).squeeze(1)
        return fraction, latent
