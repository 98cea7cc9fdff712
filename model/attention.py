"""Additive attention gate (Oktay et al. 2018, Attention U-Net).

    q = psi(ReLU(W_x x + W_g g + b_g)) + b_psi,   alpha = sigmoid(q),   out = alpha * x

x is the skip feature, g the coarser decoder signal. We bring W_g g up to
x's resolution (bilinear) rather than striding x down to g's: the skips are
at strides 4 and 8 where fragments are 1-10 px wide, and a strided W_x would
blur alpha over exactly the structures it should pick out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AttentionGate(nn.Module):
    def __init__(self, x_channels: int, g_channels: int, inner: int):
        super().__init__()
        self.w_x = nn.Conv2d(x_channels, inner, 1, bias=False)
        self.w_g = nn.Conv2d(g_channels, inner, 1, bias=True)
        self.psi = nn.Conv2d(inner, 1, 1, bias=True)
        # Start open (alpha ~ 0.73): from scratch, a gate that starts half
        # closed starves the decoder of the skip detail early in training.
        nn.init.zeros_(self.psi.weight)
        nn.init.constant_(self.psi.bias, 1.0)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        phi_g = self.w_g(g)
        if phi_g.shape[-2:] != x.shape[-2:]:
            phi_g = F.interpolate(phi_g, size=x.shape[-2:], mode="bilinear", align_corners=False)
        alpha = torch.sigmoid(self.psi(F.relu(self.w_x(x) + phi_g)))
        return alpha * x, alpha
