"""A transfer-style ResNet50 that upsamples every face to 224×224×3 — to show what resolution costs:
the model is measured on the tensor it receives, so it pays for every upsampled pixel in GFLOPs."""

from torch import nn
from torchvision.models import resnet50

PREPROCESS = {"size": 224, "channels": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def build_model(num_classes: int = 7) -> nn.Module:
    return resnet50(weights=None, num_classes=num_classes)
