"""VGG16-BN from torchvision on 48×48 input with 3 replicated channels and a 7-way head (its adaptive
pooling lifts the 1×1 feature map to 7×7, so the classifier keeps its 25,088→4,096→4,096 shape)."""

from torch import nn
from torchvision.models import vgg16_bn

PREPROCESS = {"size": 48, "channels": 3, "mean": [0.5], "std": [0.5]}


def build_model(num_classes: int = 7) -> nn.Module:
    return vgg16_bn(weights=None, num_classes=num_classes)
