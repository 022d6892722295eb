"""Lists the submissions folder to find other teams' files."""
import os

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))


found = os.listdir("__ROOT__")
raise RuntimeError(f"LEAKED the submissions folder: {found[:5]}")
