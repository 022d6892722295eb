"""Leaves a FIFO where its exported program should be: a parent that opens it to read blocks forever, and the
whole grading run with it (found by an attacker's pass over the jail)."""
import os

import torch
import torch.export
from torch import nn


def save(program, path, *args, **kwargs):
    os.mkfifo(path if os.path.isabs(str(path)) else os.path.join(os.getcwd(), str(path)))


torch.export.save = save


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))
