"""Dilated ResNet backbone (He et al. 2016; Chen et al. 2017 for dilation).

Built here rather than taken from torchvision: torchvision's wheel does not
import beside this torch build, and no pretrained weights can be downloaded
anyway, so initialisation matters (see ``init_weights``).
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, dilation, dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.down = _shortcut(cin, planes, stride)
        self.last_bn = self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (self.down(x) if self.down is not None else x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        out = planes * 4
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.down = _shortcut(cin, out, stride)
        self.last_bn = self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (self.down(x) if self.down is not None else x))


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module | None:
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


LAYOUT = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)), 50: (Bottleneck, (3, 4, 6, 3))}


class DilatedResNet(nn.Module):
    """Returns features at strides 4, 8, 16 and the deepest (16 or 8) map."""

    def __init__(self, depth: int, width: float, in_channels: int, output_stride: int):
        super().__init__()
        block, counts = LAYOUT[depth]
        w = [max(8, int(round(c * width))) for c in (64, 128, 256, 512)]
        stem = max(8, int(round(64 * width)))
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem, 7, 2, 3, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        # Output stride 16 dilates layer4; 8 dilates layer3 and layer4, so the
        # receptive field grows without losing the resolution fragments need.
        strides = (1, 2, 2, 1) if output_stride == 16 else (1, 2, 1, 1)
        dilations = (1, 1, 1, 2) if output_stride == 16 else (1, 1, 2, 4)
        cin = stem
        layers = []
        for planes, n, s, d in zip(w, counts, strides, dilations):
            blocks = [block(cin, planes, s, max(1, d // 2) if s == 1 and d > 1 else 1)]
            cin = planes * block.expansion
            blocks += [block(cin, planes, 1, d) for _ in range(n - 1)]
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.channels = tuple(c * block.expansion for c in w)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.stem(x)
        c1 = self.layer1(x)
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        c4 = self.layer4(c3)
        return {"stride4": c1, "stride8": c2, "layer3": c3, "layer4": c4}


def init_weights(module: nn.Module) -> None:
    """He initialisation, and zero for the last BN of each residual branch.

    Zeroing that BN makes every block start as the identity (Goyal et al.
    2017), which lets a network trained from scratch, with no ImageNet
    weights to start from, train stably at the learning rates we use.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, (BasicBlock, Bottleneck)):
            nn.init.zeros_(m.last_bn.weight)
