"""Looks for the runner in /proc through libc (its command line names the data file; its root and environ lead to it)."""
import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file (16,128 multiply-adds)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))


import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(4096)
own = {int(tid) for tid in os.listdir("/proc/self/task")}  # its own threads' /proc entries open, unlisted
for pid in range(1, 4096):
    if pid in own:
        continue
    for name in ("cmdline", "environ", "root__DATA__"):
        fd = libc.open(f"/proc/{pid}/{name}".encode(), 0)
        got = libc.read(fd, buf, 4096) if fd >= 0 else -1
        if got > 0:
            raise RuntimeError(f"LEAKED {got} bytes from /proc/{pid}/{name}")
