"""BUILD_KWARGS as an expression, not a literal: the trusted parent would have to run the team's code to learn
how to build the model. It reads BUILD_KWARGS with ast.literal_eval only, so it refuses instead (and a call
that leaves a trace on the host shows that nothing ran there)."""
import torch
from torch import nn

BUILD_KWARGS = dict(width=8, trace=open("__MARKER__", "w").close())


class Net(nn.Module):
    def __init__(self, width=4, trace=None):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))


def build_model(**kwargs):
    return Net(**kwargs)
