"""Moves itself to every core, as a worker of a parallel job (`--jobs 2`): only the measurer was pinned to the
job's share, from inside, so the worker ran anywhere and could spin on another job's cores while that job's
latency was timed (found by an attacker's pass; the test scores it pinned to core 0)."""
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

try:
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
except OSError:
    pass
if len(os.sched_getaffinity(0)) > 1:
    raise RuntimeError(f"LEAKED: the worker runs on cores {sorted(os.sched_getaffinity(0))}, beyond its job's core 0")
