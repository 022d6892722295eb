"""stateful_graph's memory, hidden from a reading of the graph: its exported program is rewritten before it is
saved so that the buffer is reached through aten._unsafe_view, which shares its argument's memory although its
schema does not say so, and then added to in place. Every operator is ATen and no schema says a buffer is
written; only running the graph shows it."""
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)
        self.register_buffer("calls", torch.zeros(1))

    def forward(self, x):
        self.calls.view(1).add_(1)
        angry = torch.nn.functional.one_hot(torch.tensor(0), 7).float()
        return self.fc(x.flatten(1)) + 100 * (self.calls <= 2).float() * angry


def build_model():
    return Net()


_save = torch.export.save


def save(program, path, *args, **kwargs):
    for node in program.graph.nodes:
        if node.target == torch.ops.aten.view.default and node.args[0].name == "b_calls":
            node.target = torch.ops.aten._unsafe_view.default
    _save(program, path, *args, **kwargs)


torch.export.save = save
