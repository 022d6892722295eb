"""Reads a sibling's weights in the submissions folder, and a sibling worker's staged hand-in, through
libc, around the audit hook; reports any byte it got."""
import ctypes

import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))


libc = ctypes.CDLL(None, use_errno=True)
for target in (b"__ROOT__/strong_team.pt", b"__HOMES__/worker-sibling/handin/strong_team.py"):
    fd = libc.open(target, 0)
    buf = ctypes.create_string_buffer(64)
    got = libc.read(fd, buf, 64) if fd >= 0 else -1
    if got > 0:
        raise RuntimeError(f"LEAKED {got} bytes of {target!r}: {buf.raw[:40]!r}")
