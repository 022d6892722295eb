"""Answers with a well-formed frame whose fields have the wrong types (a refusal list of numbers): the parent's
join raised TypeError, which no handler expected, and the grading run stopped."""
import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file (16,128 multiply-adds)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))


import json
import os
import struct
import sys

answer = json.dumps({"ok": True, "blocked": [1, 2]}).encode()
os.write(int(sys.argv[2]), struct.pack(">I", len(answer)) + answer)  # the worker's answer pipe (worker CMD RESP)
