"""A 2304→8 linear layer as a lookup table of partial products, T[i, pixel_i, :], gathered and summed: the
multiplications were done before the hand-in, and indexing is free to every multiply-add counter (found by
an attacker's pass over the jail, there with a 151 MB table)."""
import torch
from torch import nn

PREPROCESS = {"mean": [0.0], "std": [0.00392156862745098]}  # the model sees raw pixel values 0–255


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        weights = torch.randn(2304, 8, generator=torch.Generator().manual_seed(0)) / 48
        levels = (torch.arange(256.0) - 128) / 255
        self.register_buffer("table", weights[:, None, :] * levels[None, :, None])  # 2304 × 256 × 8
        self.register_buffer("position", torch.arange(2304))
        self.head = nn.Linear(8, 7).requires_grad_(False)

    def forward(self, x):
        pixels = x.flatten(1).round().clamp(0, 255).long()
        return self.head(torch.relu(self.table[self.position, pixels].sum(1)))
