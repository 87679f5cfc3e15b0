"""Backbones by name (a registry of builders, as data) and the BNNeck head that turns one into a re-id model.

Every backbone takes N×3×256×128 RGB images normalised with ImageNet mean/std and returns N×D features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from reidkit.errors import TrainingError
from reidkit.train import osnet as osnet_lib

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class CompactNet(nn.Module):
    """A small CNN for training from scratch: four conv-BN-ReLU stages (32-256 channels), GAP, 256-d."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for i, width in enumerate(widths):
            stride = 2 if i == 0 else 1
            layers += [
                nn.Conv2d(cin, width, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            cin = width
        self.features = nn.Sequential(*layers)
        self.feature_dim = widths[-1]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).mean(dim=(2, 3))


class TimmBackbone(nn.Module):
    """A timm model without its classifier (num_classes=0): pooled features."""

    def __init__(self, name: str, weights: str | None):
        super().__init__()
        try:
            import timm
        except Exception as exc:  # ImportError, or torchvision failing to load beside this torch
            raise TrainingError(
                f"timm backbones need the timm package (and a torchvision that matches torch): {exc}"
            ) from None
        if name not in timm.list_models():
            raise TrainingError(f"unknown timm model {name!r}; see timm.list_models()")
        self.model = timm.create_model(name, pretrained=False, num_classes=0)
        if weights:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state) if isinstance(state, dict) else state
            own = self.model.state_dict()
            fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
            if not fitting:
                raise TrainingError(f"{weights}: none of its tensors fit timm model {name}")
            self.model.load_state_dict(fitting, strict=False)
        self.feature_dim = int(self.model.num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class OnnxBackbone(nn.Module):
    """A pretrained ONNX embedding model made trainable (see onnx_module)."""

    def __init__(self, path: str):
        super().__init__()
        from reidkit.train.onnx_module import OnnxModule

        try:
            self.graph = OnnxModule(path)
        except NotImplementedError as exc:
            raise TrainingError(f"{path}: cannot be converted for training: {exc}") from None
        except Exception as exc:
            raise TrainingError(f"{path}: not a readable ONNX model ({str(exc).splitlines()[0][:200]})") from None
        _, _, height, width = self.graph.input_shape
        if (height, width) not in ((256, 128), (-1, -1)):
            raise TrainingError(f"{path}: input is {height}×{width}, training uses 256×128")
        self.feature_dim = self.graph.feature_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(x)


def _osnet(name: str) -> Callable[[str | None], nn.Module]:
    def build(weights: str | None) -> nn.Module:
        model = osnet_lib.osnet(name)
        if weights:
            try:
                osnet_lib.load_torchreid_weights(model, weights)
            except (ValueError, RuntimeError) as exc:
                raise TrainingError(str(exc)) from None
        return model

    return build


BACKBONES: dict[str, Callable[[str | None], nn.Module]] = {
    **{name: _osnet(name) for name in osnet_lib.WIDTHS},
    "compact": lambda weights: CompactNet(),
}


def build_backbone(name: str, weights: str | None = None, init: str | None = None) -> nn.Module:
    """A backbone by name ('osnet_x0_25', 'compact', 'timm:resnet50', ...) or from an ONNX file (`init`)."""
    for path in (weights, init):
        if path and not Path(path).is_file():
            raise TrainingError(f"weights file not found: {path}")
    if init:
        return OnnxBackbone(init)
    if name.startswith("timm:"):
        return TimmBackbone(name.removeprefix("timm:"), weights)
    if name not in BACKBONES:
        known = ", ".join(sorted(BACKBONES)) + ", timm:<name>"
        raise TrainingError(f"unknown backbone {name!r}; known: {known} (or --init MODEL.onnx)")
    return BACKBONES[name](weights)


@dataclass(frozen=True)
class HeadOutput:
    """What one training forward pass gives the losses."""

    features: torch.Tensor  # before the BNNeck: the triplet loss works on these
    logits: torch.Tensor  # identity classifier on the BNNeck features


class ReidNet(nn.Module):
    """Backbone + BNNeck (Luo et al. 2019): train on (features, logits), embed with the normalised neck."""

    def __init__(self, backbone: nn.Module, num_classes: int):
        super().__init__()
        self.backbone = backbone
        dim = backbone.feature_dim
        self.neck = nn.BatchNorm1d(dim)
        self.neck.bias.requires_grad_(False)
        self.classifier = nn.Linear(dim, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)

    @property
    def feature_dim(self) -> int:
        """Embedding size."""
        return self.backbone.feature_dim

    def forward(self, x: torch.Tensor) -> HeadOutput:
        features = self.backbone(x)
        return HeadOutput(features, self.classifier(self.neck(features)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised BNNeck embeddings."""
        return nn.functional.normalize(self.neck(self.backbone(x)), dim=1)


class ExportWrapper(nn.Module):
    """The deployable graph: BGR 0-255 NCHW (the OMZ convention) in, L2-normalised embedding out."""

    def __init__(self, net: ReidNet):
        super().__init__()
        self.net = net
        mean = torch.tensor(IMAGENET_MEAN[::-1]).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(IMAGENET_STD[::-1]).view(1, 3, 1, 1) * 255.0
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, bgr: torch.Tensor) -> torch.Tensor:
        x = (bgr - self.mean) / self.std
        return self.net.embed(torch.flip(x, dims=[1]))
