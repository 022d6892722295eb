"""Creates 20,000 empty folders in its home: the disk watchdog counted files' blocks only, never a folder's (4 KB
each) nor the number of entries. At the 17,000 a second seen on a busy 2-core machine, the default 600 s limit
leaves room for some 10 million: 40 GB and as many inodes of the grader's disk, uncounted, and some 20 minutes
of the parent's time to remove them at the 8,000 a second it manages (found by an attacker's pass)."""
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

for k in range(20_000):
    os.mkdir(f"/home/fercomp/f{k}")
time.sleep(2)  # several of the watchdog's rounds
raise RuntimeError("LEAKED: 20,000 folders (80 MB of blocks and 20,000 inodes) uncounted")
