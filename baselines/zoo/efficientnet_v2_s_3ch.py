"""EfficientNetV2-S from torchvision on 48×48 input with 3 replicated channels and a 7-way head."""

from torch import nn
from torchvision.models import efficientnet_v2_s

PREPROCESS = {"size": 48, "channels": 3, "mean": [0.5], "std": [0.5]}


def build_model(num_classes: int = 7) -> nn.Module:
    return efficientnet_v2_s(weights=None, num_classes=num_classes)
