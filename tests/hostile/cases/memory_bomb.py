"""Allocates memory without bound while the model is built (in forward it would only allocate fake tensors:
torch.export traces with them, so there it is an endless loop, as hang_forward)."""
import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)
        hoard = []
        while True:
            hoard.append(torch.ones(64, 1024, 1024))

    def forward(self, x):
        return self.fc(x.flatten(1))
