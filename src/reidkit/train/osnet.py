"""OSNet (Zhou et al., ICCV 2019) with torchreid's parameter names, so its published weights load as-is."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

WIDTHS = {  # name -> channels of conv1..conv5 (OSNet paper, table 1)
    "osnet_x1_0": (64, 256, 384, 512),
    "osnet_x0_75": (48, 192, 288, 384),
    "osnet_x0_5": (32, 128, 192, 256),
    "osnet_x0_25": (16, 64, 96, 128),
}


class ConvLayer(nn.Module):
    """k×k convolution, batch (or instance) norm, ReLU."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, instance_norm: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False)
        self.bn = nn.InstanceNorm2d(cout, affine=True) if instance_norm else nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Conv1x1(nn.Module):
    """1×1 convolution, batch norm, optional ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.use_relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return F.relu(x) if self.use_relu else x


class LightConv3x3(nn.Module):
    """Pointwise then depthwise 3×3 convolution, batch norm, ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False, groups=cout)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv2(self.conv1(x))))


class ChannelGate(nn.Module):
    """Unified aggregation gate: channel weights from a squeeze-excitation MLP."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(self.global_avgpool(x)))))
        return x * gate


class OSBlock(nn.Module):
    """Omni-scale residual block: four streams of 1-4 light 3×3 convolutions fused by a shared gate."""

    def __init__(self, cin: int, cout: int, bottleneck_reduction: int = 4):
        super().__init__()
        mid = cout // bottleneck_reduction
        self.conv1 = Conv1x1(cin, mid)
        self.conv2a = LightConv3x3(mid, mid)
        self.conv2b = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(2)])
        self.conv2c = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(3)])
        self.conv2d = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(4)])
        self.gate = ChannelGate(mid)
        self.conv3 = Conv1x1(mid, cout, relu=False)
        self.downsample = Conv1x1(cin, cout, relu=False) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.conv1(x)
        x2 = (
            self.gate(self.conv2a(x1))
            + self.gate(self.conv2b(x1))
            + self.gate(self.conv2c(x1))
            + self.gate(self.conv2d(x1))
        )
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(self.conv3(x2) + identity)


def _stage(cin: int, cout: int, blocks: int, reduce: bool) -> nn.Sequential:
    layers: list[nn.Module] = [OSBlock(cin, cout)] + [OSBlock(cout, cout) for _ in range(blocks - 1)]
    if reduce:
        layers.append(nn.Sequential(Conv1x1(cout, cout), nn.AvgPool2d(2, stride=2)))
    return nn.Sequential(*layers)


class OSNet(nn.Module):
    """OSNet backbone: image batch (N×3×H×W, RGB, ImageNet-normalised) -> N×feature_dim features."""

    def __init__(self, channels: tuple[int, int, int, int], feature_dim: int = 512):
        super().__init__()
        c1, c2, c3, c4 = channels
        self.conv1 = ConvLayer(3, c1, 7, stride=2, padding=3)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = _stage(c1, c2, 2, reduce=True)
        self.conv3 = _stage(c2, c3, 2, reduce=True)
        self.conv4 = _stage(c3, c4, 2, reduce=False)
        self.conv5 = Conv1x1(c4, c4)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(c4, feature_dim), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True))
        self.feature_dim = feature_dim
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.InstanceNorm2d)) and m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.conv4(self.conv3(self.conv2(x))))
        return self.fc(self.global_avgpool(x).flatten(1))


def osnet(name: str) -> OSNet:
    """An OSNet of the named width (osnet_x1_0, osnet_x0_75, osnet_x0_5, osnet_x0_25), randomly initialised."""
    return OSNet(WIDTHS[name])


def load_torchreid_weights(model: OSNet, path: str) -> list[str]:
    """Load a torchreid OSNet checkpoint (its classifier dropped); returns the keys left at their init."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {
        k.removeprefix("module."): v
        for k, v in state.items()
        if not k.removeprefix("module.").startswith("classifier.")
    }
    own = model.state_dict()
    shapes = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(shapes) < 0.9 * len(own):
        raise ValueError(f"{path} does not fit this OSNet: only {len(shapes)} of {len(own)} tensors match")
    missing, _ = model.load_state_dict(shapes, strict=False)
    return list(missing)
