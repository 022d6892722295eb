"""Hides its real compute in numpy inside forward."""
import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        import numpy as np

        w = np.ones((48 * 48, 7), dtype=np.float32)
        return torch.from_numpy(x.flatten(1).numpy() @ w) + self.fc(x.flatten(1)) * 0
