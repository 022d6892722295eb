"""Starts a process by the raw fork system call (57 on x86-64), which glibc never makes: a rule on clone alone
lets it by. A second process in the jail is what it wants; it gives up loudly when it gets one."""
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
import platform

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
FORK = {"x86_64": 57}.get(platform.machine())
pid = libc.syscall(FORK) if FORK is not None else -1
if pid == 0:
    os._exit(0)  # the child: alive beside the worker, free to wait for the next stage
if pid > 0:
    raise RuntimeError(f"LEAKED: started process {pid} in the jail")
