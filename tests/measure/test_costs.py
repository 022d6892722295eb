"""The cost table: every operator of an exported graph priced by a stated rule, none silently free."""

import re
from pathlib import Path

import pytest
import torch
from torch import nn

from fercomp.measure import costs
from fercomp.measure.flops import count_all

DOC = Path(__file__).parents[2] / "docs" / "measurer-costs.md"


def _walk(model, x):
    return costs.count_graph(costs.exported_module(model.eval(), x), x)


def test_every_rule_and_free_operator_is_in_the_docs_page():
    text = DOC.read_text()
    documented = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", text))
    missing = sorted(set(costs.TABLE) - documented)
    assert not missing, f"docs/measurer-costs.md does not list {missing}: run `python -m fercomp.measure.costs`"
    assert costs.markdown_table() in text, "docs/measurer-costs.md is out of date: run `python -m fercomp.measure.costs`"


class Spelled(nn.Module):
    """A convolution's work spelled with operators fvcore ignores: floor_divide by reciprocals, a 3-D average pool,
    a broadcast max."""

    def __init__(self):
        super().__init__()
        self.register_buffer("inverse", torch.full((8, 1, 1, 1), 4.0))

    def forward(self, x):
        x = x.unsqueeze(1).expand(-1, 8, -1, -1, -1)  # N × 8 × 1 × 48 × 48, free
        products = torch.floor_divide(x * 1000, self.inverse)
        summed = nn.functional.avg_pool3d(products, (1, 3, 3), stride=1)
        return torch.max(summed, torch.zeros(1, 8, 1, 1, 1)).flatten(1)[:, :7]


def test_the_readme_lists_exactly_the_free_operators():
    """The README's list of free operators is the table's, name for name: a new free operator is reviewed there."""
    text = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    bullet = text[text.index("- **free**, and nothing else"):text.index("An operator outside the table")]
    listed = {name for quoted in re.findall(r"`([^`]+)`", bullet) for name in quoted.split()}
    free = {name for name, rule in costs.TABLE.items() if rule is costs.FREE}
    assert listed == free, f"README lists {sorted(listed - free)} that are not free; misses {sorted(free - listed)}"


def test_operators_fvcore_ignores_are_priced_on_what_they_touch():
    x = torch.zeros(2, 1, 48, 48)
    found = _walk(Spelled(), x)
    elements = 2 * 8 * 48 * 48
    assert found["by_operator"]["floor_divide"] == [elements, elements]
    assert found["by_operator"]["avg_pool3d"] == [2 * 8 * 46 * 46, 2 * 8 * 46 * 46 * 9]  # nine window slots each
    assert found["by_operator"]["max"] == [0, 2 * 8 * 46 * 46]  # the broadcast output, not the (1, 8, …) operand
    assert found["uncosted"] == {} and found["macs"] == 0


def test_an_operator_without_a_rule_is_uncosted_never_free():
    class Spectrum(nn.Module):
        def forward(self, x):
            return torch.fft.rfft2(x).abs().flatten(1)[:, :7]

    found = _walk(Spectrum(), torch.zeros(1, 1, 48, 48))
    assert set(found["uncosted"]) == {"fft_rfft2"}


def test_zeroing_a_slice_in_place_is_free_like_filling_it():
    """Swin-V2's attention zeroes the key's third of a copied qkv bias (`bias[n:2 * n].zero_()`): data, not compute."""
    class ZeroKeyBias(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.ones(21))

        def forward(self, x):
            bias = self.bias.clone()
            bias[7:14].zero_()
            return x.flatten(1)[:, :21] + bias

    found = _walk(ZeroKeyBias(), torch.zeros(2, 1, 48, 48))
    assert found["uncosted"] == {} and found["by_operator"] == {"add": [0, 2 * 21]}


def test_shape_arithmetic_on_the_batch_size_is_free():
    class Flatten(nn.Module):
        def forward(self, x):
            return x.reshape(x.shape[0] * 1, -1)[:, :7] * 2

    x = torch.zeros(3, 1, 48, 48)
    program = torch.export.export(Flatten(), (x,), dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64)},))
    found = costs.count_graph(program.module(), x)
    assert found["uncosted"] == {} and found["by_operator"] == {"mul": [3 * 7, 0]}


@pytest.mark.parametrize("layer, macs", [
    (nn.Conv2d(1, 4, 3, groups=1), 4 * 46 * 46 * 9),
    (nn.ConvTranspose2d(1, 2, 2, stride=2), 48 * 48 * 2 * 4),
    (nn.Linear(48, 5), 48 * 5 * 48),
])
def test_multiply_adds_from_the_operands_shapes(layer, macs):
    assert _walk(layer, torch.zeros(1, 1, 48, 48))["macs"] == macs


def test_attention_and_einsum_cost_their_products():
    class Attend(nn.Module):
        def forward(self, x):
            q = x.reshape(x.shape[0], 1, 48, 48)
            a = nn.functional.scaled_dot_product_attention(q, q, q)
            return torch.einsum("bhij,bhjk->bhik", a, q).flatten(1)[:, :7]

    found = _walk(Attend(), torch.zeros(1, 1, 48, 48))
    assert found["macs"] == 48 * 48 * (48 + 48) + 48 * 48 * 48


def _forged(model, first: int):
    """`model` exported with a minimum batch above `first`, its range widened back to 1 and its asserts deleted (what
    a hand-in that replaces torch.export.export in the worker can do: tests/hostile/cases/batch_position_forgery.py)."""
    from torch.utils._sympy.value_ranges import ValueRanges

    batch = torch.export.Dim("batch", min=first + 2, max=4096)
    program = torch.export.export(model, (torch.zeros(2 * first, 1, 48, 48),), dynamic_shapes=({0: batch},))
    for symbol in list(program.range_constraints):
        program.range_constraints[symbol] = ValueRanges(1, 4096)
    graph = program.graph_module.graph
    for node in reversed(list(graph.nodes)):
        if node.op == "call_function" and not node.users and not isinstance(node.target, torch._ops.OpOverload) \
                or "assert" in str(node.target):
            graph.erase_node(node)
    graph.eliminate_dead_code()
    return program.module()


class FirstRowsCheap(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(48 * 48, 7)
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 7))

    def forward(self, x):
        return torch.cat([self.head(x[:2].flatten(1)), self.body(x[2:])])


def test_a_batch_that_costs_more_per_image_than_batch_one_is_reported():
    model = FirstRowsCheap().eval()
    found = count_all(model, torch.zeros(1, 1, 48, 48), graph=_forged(model, 2), batch_sizes=(1, 16))
    assert [row["batch"] for row in found["batched"]] == [16]
    assert any("at batch 16" in line for line in found["batch_check_detail"]), found["batch_check_detail"]
    honest = count_all(nn.Sequential(nn.Flatten(), nn.Linear(48 * 48, 7)).eval(), torch.zeros(1, 1, 48, 48),
                       batch_sizes=(5, 128))
    assert honest["batch_check_detail"] == [] and honest["uncosted_operators"] == {}
