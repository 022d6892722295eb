"""MicroNet-style operation counts: multiplications and additions, elementwise work included.

The NeurIPS 2019 MicroNet challenge scored a model as parameters ÷ baseline parameters + operations ÷
baseline operations, where every multiplication and every addition counts (so ReLU, pooling, batch norm
and residual additions cost, unlike in fvcore's multiply-add count). The counts are the cost table's
(fercomp/measure/costs.py) on the exported graph: a multiply-add is one multiplication and one addition, a
comparison an addition, a transcendental a multiplication, each per element of the largest tensor the
operator reads or writes; pooling per window slot. These are estimates with a stated rule, not the
challenge's exact scorer; the record keeps the per-operator breakdown.
"""

from __future__ import annotations

from fercomp.measure import costs

RULE = ("the cost table (docs/measurer-costs.md): multiply-add = 1 mult + 1 add; comparison = 1 add; "
        "transcendental = 1 mult; per element of the largest tensor an operator reads or writes")


def from_table(table: dict) -> dict:
    """The MicroNet figures of one cost-table walk (costs.count_graph)."""
    return {"mults": table["mults"], "adds": table["adds"], "ops": table["ops"], "by_operator": table["by_operator"],
            "unsupported_ops": table["uncosted"], "rule": RULE}


def count_micronet(model, example) -> dict:
    """Multiplications, additions, their sum (`ops`) and the per-operator breakdown for one input."""
    return from_table(costs.count_graph(costs.exported_module(model, example), example))
