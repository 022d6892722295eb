"""Rewrites the worker's answers on their way out: a layer table the parent's report renderer would choke on
(a dict for a name, a negative parameter count). Scored as honest (the table is advisory); `fercomp report` must
say so in one line, not crash."""
import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file (16,128 multiply-adds)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))


import sys

protocol = sys.modules["fercomp.submission.protocol"]
_send = protocol.send


def send(fd, header, payload=b""):
    if isinstance(header, dict) and "layers" in header:
        header = {**header, "layers": [{"name": {"nested": [1, 2]}, "type": None, "output_shape": "x" * 10,
                                        "params": -5, "flops": 1.5}]}
    return _send(fd, header, payload)


protocol.send = send
