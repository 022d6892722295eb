"""Runs an expensive network eagerly and a cheap one whenever it is traced, counted or exported
(torch.jit.is_tracing, torch.compiler.is_compiling/is_exporting, a dispatch mode on the stack)."""
import torch
from torch import nn


def counted() -> bool:
    from torch.utils._python_dispatch import _get_current_dispatch_mode

    return bool(torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.compiler.is_exporting()
                or _get_current_dispatch_mode() is not None)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.cheap = nn.Linear(48 * 48, 7).requires_grad_(False)
        self.big = nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 7)).requires_grad_(False)

    def forward(self, x):
        if counted():
            return self.cheap(x.flatten(1))
        return self.big(x)
