"""Reads what the previous hand-in (write_outside) left in /tmp and /dev/shm: a channel between teams."""
import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file (16,128 multiply-adds)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))


import os

for path in ("/tmp/fercomp-trace", "/dev/shm/fercomp-trace"):
    if os.path.exists(path):
        raise RuntimeError(f"LEAKED: {path} from an earlier hand-in")
