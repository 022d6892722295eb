"""Hides a 2304→512 layer behind a width chosen by the data: pixels that differ from the counters' constant
example (which PREPROCESS makes exactly 0) are kept with nonzero(), so the count sees a layer of width 0 and
the prediction one of width ~2304. torch.export guards such a width with assertion nodes, which the hand-in
deletes from its exported program before fercomp saves it (found by an attacker's pass over the jail)."""
import operator

import torch
import torch.export
from torch import nn

PREPROCESS = {"mean": [0.5019607843137255], "std": [1.0]}
_export = torch.export.export


def export(*args, **kwargs):
    program = _export(*args, **kwargs)
    graph = program.graph_module.graph
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target is torch.ops.aten._assert_scalar.default:
            graph.erase_node(node)
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target in (operator.ge, operator.le, torch.ops.aten.sym_size.int) and not node.users:
            graph.erase_node(node)
    program.graph_module.recompile()
    return program


torch.export.export = export


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(2304, 512) / 48, requires_grad=False)
        self.w2 = nn.Parameter(torch.randn(512, 7) / 24, requires_grad=False)

    def forward(self, x):
        f = x.flatten(1)
        idx = torch.nonzero(f.abs().amax(0) > 1e-4).squeeze(1)
        return torch.relu(f[:, idx] @ self.w1[idx]) @ self.w2
