"""ResNet18 from torchvision on 48×48 input with the gray channel replicated to 3, and a 7-way head."""

from torch import nn
from torchvision.models import resnet18

PREPROCESS = {"size": 48, "channels": 3, "mean": [0.5], "std": [0.5]}


def build_model(num_classes: int = 7) -> nn.Module:
    return resnet18(weights=None, num_classes=num_classes)
