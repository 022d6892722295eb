"""EfficientNet-B0 (torchvision) with its stem replaced by a 1-channel 3×3 stride-2 convolution, on 48×48
gray input, and a 7-way head. build_model() builds the architecture; its recipe's `pretrained = "imagenet"`
starts training from torchvision's ImageNet weights (the RGB stem summed to one channel, the head new)."""

from torch import nn
from torchvision.models import efficientnet_b0


def build_model(num_classes: int = 7) -> nn.Module:
    model = efficientnet_b0(weights=None, num_classes=num_classes)
    model.features[0][0] = nn.Conv2d(1, 32, 3, stride=2, padding=1, bias=False)
    return model
