"""Python control flow on the input's values: torch.export cannot capture it (not_exportable, with its reason)."""
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        if x.mean() > 0:
            return self.fc(x.flatten(1))
        return -self.fc(x.flatten(1))
