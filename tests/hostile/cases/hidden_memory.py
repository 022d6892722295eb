"""Fills memory the watchdog cannot see: a 3 GB memfd (allocated, never mapped) and a 3 GB SysV segment (touched, then
detached). Without a cgroup (an unprivileged grader: a hosted runner, Slurm) nothing stopped either."""
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
libc.shmat.restype = ctypes.c_void_p
SIZE = 3 << 30
fd = libc.memfd_create(b"cache", 0)
if fd >= 0:
    os.posix_fallocate(fd, 0, SIZE)
    raise RuntimeError(f"LEAKED: {SIZE >> 30} GB in a memfd that no process has mapped")
segment = libc.shmget(0, SIZE, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
if segment >= 0:
    address = libc.shmat(segment, None, 0)
    ctypes.memset(address, 1, SIZE)
    libc.shmdt(ctypes.c_void_p(address))
    raise RuntimeError(f"LEAKED: {SIZE >> 30} GB in a SysV segment that no process has attached")
