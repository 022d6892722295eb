"""A graph with a memory: a buffer it adds 1 to in place on every call (the exported graph keeps the add_ on the
buffer itself). Its first two calls answer Angry for every face. On a first score the FLOP counters spend them, so
its answers pass every consistency check; a re-score that takes the kept counts answers its first batch Angry:
the same program scored another accuracy, and flagged. Its answers must depend on the image alone, never on what
ran before."""
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls.add_(1)
        angry = torch.nn.functional.one_hot(torch.tensor(0), 7).float()
        return self.fc(x.flatten(1)) + 100 * (self.calls <= 2).float() * angry


def build_model():
    return Net()
