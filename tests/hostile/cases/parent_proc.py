"""Looks for the runner in /proc (its command line names the data file; its root and environ lead to it)."""
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
others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
if others:
    raise RuntimeError(f"LEAKED: other processes are visible: {others[:5]}")
for path in (f"/proc/{os.getppid()}/cmdline", f"/proc/{os.getppid()}/root__DATA__", "/proc/1/root__DATA__"):
    fd = libc.open(path.encode(), 0)
    buf = ctypes.create_string_buffer(4096)
    got = libc.read(fd, buf, 4096) if fd >= 0 else -1
    if got > 0 and b"__DATA_NAME__" in buf.raw[:got]:
        raise RuntimeError(f"LEAKED {got} bytes from {path}")
