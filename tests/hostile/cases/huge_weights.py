"""Ships a 2 GB weights file."""
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7)

    def forward(self, x):
        return self.fc(x.flatten(1))
