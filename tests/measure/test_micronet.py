"""MicroNet operation counts by hand: multiplications and additions, elementwise work included."""

import torch
from torch import nn

from fercomp.measure.micronet import count_micronet


def test_a_small_network_counted_by_hand():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(2 * 23 * 23, 7)).eval()
    found = count_micronet(model, torch.zeros(1, 1, 48, 48))
    conv = 2 * 46 * 46 * 9  # each output: 9 multiply-adds
    bn = relu = 2 * 46 * 46  # per element: BN one mult and one add, ReLU one comparison (an add)
    pool = 2 * 46 * 46  # a 2×2 window: four slots per output, one addition per input element
    linear = 2 * 23 * 23 * 7
    assert found["by_operator"]["conv2d"] == [conv, conv]
    assert found["mults"] == conv + bn + linear
    assert found["adds"] == conv + bn + relu + pool + linear
    assert found["ops"] == found["mults"] + found["adds"] and found["unsupported_ops"] == {}


def test_a_residual_addition_and_global_pooling_cost():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1, bias=False)

        def forward(self, x):
            x = x.repeat(1, 4, 1, 1)
            return (self.conv(x) + x).mean(dim=(2, 3))

    found = count_micronet(Block().eval(), torch.zeros(1, 1, 8, 8))
    assert found["by_operator"]["add"] == [0, 4 * 8 * 8]  # the residual: one add per element
    assert found["by_operator"]["mean"] == [0, 4 * 8 * 8]  # a reduction: one add per element it reads
    assert "repeat" not in found["by_operator"]  # a copy is free
