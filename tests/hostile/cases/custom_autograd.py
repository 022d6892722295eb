"""Hides a large matmul inside a custom autograd Function."""
import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return Hidden.apply(x.flatten(1), self.fc.weight)


class Hidden(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):
        for _ in range(50):
            y = x @ w.t()
        return y

    @staticmethod
    def backward(ctx, grad):
        return None, None
