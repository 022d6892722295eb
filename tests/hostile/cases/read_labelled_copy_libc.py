"""Lists the data file's folder through libc and reads a face from the labelled folder copy beside it
(train/ test/<class>/*.jpg: the labels are the folder names), around the audit hook."""
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
for path in ("__DATA_DIR__", "__DATA_DIR__/copy/test", "__DATA_DIR__/copy/test/Angry/0.jpg"):
    fd = libc.open(path.encode(), os.O_RDONLY)
    if fd >= 0:
        raise RuntimeError(f"LEAKED: opened {path}")
