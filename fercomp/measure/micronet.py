"""MicroNet-style operation counts: multiplications and additions, elementwise work included.

The NeurIPS 2019 MicroNet challenge scored a model as parameters ÷ baseline parameters + operations ÷
baseline operations, where every multiplication and every addition counts (so ReLU, pooling, batch norm
and residual additions cost, unlike in fvcore's multiply-add count). This counter walks the same jit
trace fvcore does, with its own handle per operator:
- a multiply-add (convolution, linear, matmul, einsum) is one multiplication and one addition;
- a comparison (ReLU, max, max-pooling, `>`, `where`) counts as an addition, and so does each element an
  indexing gathers (a table lookup is not free);
- a transcendental (exp, sigmoid, tanh, …) counts as one multiplication;
- per output element otherwise, as in ELEMENTWISE; reshapes, copies and indexing are free.
An operator it has no rule for adds nothing and is listed in `unsupported_ops`. These are estimates
with a stated rule, not the challenge's exact scorer; the record keeps the per-operator breakdown.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter

#: operator → (multiplications, additions) per output element
ELEMENTWISE = {
    "relu": (0, 1), "relu_": (0, 1), "relu6": (0, 2), "hardtanh": (0, 2), "hardtanh_": (0, 2), "leaky_relu": (1, 1),
    "leaky_relu_": (1, 1), "elu": (2, 2), "elu_": (2, 2), "gelu": (4, 3), "silu": (2, 1), "silu_": (2, 1),
    "sigmoid": (2, 1), "sigmoid_": (2, 1), "tanh": (2, 2), "hardswish": (2, 3), "hardswish_": (2, 3),
    "hardsigmoid": (1, 3), "mish": (4, 3), "add": (0, 1), "add_": (0, 1), "sub": (0, 1), "sub_": (0, 1),
    "rsub": (0, 1), "mul": (1, 0), "mul_": (1, 0), "div": (1, 0), "div_": (1, 0), "clamp": (0, 2), "clamp_": (0, 2),
    "clamp_min": (0, 1), "exp": (1, 0), "log": (1, 0), "sqrt": (1, 0), "rsqrt": (1, 0), "pow": (1, 0),
    "neg": (0, 0), "abs": (0, 0), "batch_norm": (1, 1), "upsample_bilinear2d": (4, 3), "upsample_nearest2d": (0, 0),
    # comparisons and selections: an addition each (so a lookup spelled as compare-and-pick is not free)
    "gt": (0, 1), "lt": (0, 1), "ge": (0, 1), "le": (0, 1), "eq": (0, 1), "ne": (0, 1), "maximum": (0, 1),
    "minimum": (0, 1), "where": (0, 1), "index": (0, 1),
}
#: operators whose cost scales with the input: (multiplications, additions) per input element
PER_INPUT = {"softmax": (2, 2), "log_softmax": (2, 2), "layer_norm": (2, 3), "group_norm": (2, 3),
             "instance_norm": (2, 3), "sum": (0, 1), "adaptive_max_pool2d": (0, 1), "adaptive_avg_pool2d": (0, 1),
             "amax": (0, 1), "amin": (0, 1), "argmax": (0, 1), "argmin": (0, 1), "max": (0, 1), "min": (0, 1)}
MULTIPLY_ADD = ("_convolution", "addmm", "linear", "matmul", "mm", "bmm", "einsum")
FREE = ("view", "reshape", "flatten", "size", "contiguous", "permute", "transpose", "t", "squeeze", "unsqueeze",
        "expand", "select", "slice", "cat", "stack", "dropout", "dropout_", "feature_dropout", "to", "type_as",
        "detach", "constant_pad_nd", "pad", "max_pool2d_with_indices", "zeros", "ones", "zeros_like", "ones_like")


def _numel(value) -> int:
    from fvcore.nn.jit_handles import get_shape

    shape = get_shape(value)
    return math.prod(shape) if shape else 0


def _counts(op: str, mults: float, adds: float) -> Counter:
    return Counter({f"{op}.mult": int(mults), f"{op}.add": int(adds)})


def _multiply_add(op: str, fvcore_handle):
    def handle(inputs, outputs) -> Counter:
        found = fvcore_handle(inputs, outputs)
        macs = sum(found.values()) if isinstance(found, Counter) else found
        return _counts(op, macs, macs)
    return handle


def _elementwise(op: str, per_output: tuple[int, int]):
    return lambda inputs, outputs: _counts(op, per_output[0] * _numel(outputs[0]), per_output[1] * _numel(outputs[0]))


def _per_input(op: str, per_input: tuple[int, int]):
    return lambda inputs, outputs: _counts(op, per_input[0] * _numel(inputs[0]), per_input[1] * _numel(inputs[0]))


def _pool(op: str, average: bool):
    def handle(inputs, outputs) -> Counter:
        out = _numel(outputs[0])
        window = _kernel_window(inputs[1]) or max(1, _numel(inputs[0]) // max(out, 1))
        return _counts(op, out if average else 0, out * (window - 1))
    return handle


def _kernel_window(value) -> int | None:
    """The pooling window's size from the traced kernel_size list (a constant list in the graph)."""
    kernel = value.toIValue()
    if kernel is None and value.node().kind() == "prim::ListConstruct":
        kernel = [v.toIValue() for v in value.node().inputs()]
    if isinstance(kernel, int):
        kernel = [kernel, kernel]
    if isinstance(kernel, (list, tuple)) and kernel and all(isinstance(k, int) for k in kernel):
        return math.prod(kernel) * (1 if len(kernel) > 1 else kernel[0])
    return None


def _mean(inputs, outputs) -> Counter:
    return _counts("mean", _numel(outputs[0]), _numel(inputs[0]))


def handles() -> dict:
    """aten operator → handle returning Counter({'<op>.mult': n, '<op>.add': n})."""
    from fvcore.nn.flop_count import _DEFAULT_SUPPORTED_OPS

    out = {f"aten::{op}": _multiply_add(op.strip("_"), _DEFAULT_SUPPORTED_OPS[f"aten::{op}"]) for op in MULTIPLY_ADD}
    out |= {f"aten::{op}": _elementwise(op, cost) for op, cost in ELEMENTWISE.items()}
    out |= {f"aten::{op}": _per_input(op, cost) for op, cost in PER_INPUT.items()}
    out |= {"aten::max_pool2d": _pool("max_pool2d", False), "aten::avg_pool2d": _pool("avg_pool2d", True),
            "aten::mean": _mean}
    return out


def count_micronet(model, example) -> dict:
    """Multiplications, additions, their sum (`ops`) and the per-operator breakdown for one input."""
    from fvcore.nn import FlopCountAnalysis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = FlopCountAnalysis(model, example).clear_op_handles().set_op_handle(**handles())
        analysis._ignored_ops |= {f"aten::{op}" for op in FREE}  # fvcore's own list plus ours: no cost, not unsupported
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        by_key = analysis.by_operator()
        unsupported = {k: int(v) for k, v in analysis.unsupported_ops().items()}
    mults = sum(v for k, v in by_key.items() if k.endswith(".mult"))
    adds = sum(v for k, v in by_key.items() if k.endswith(".add"))
    by_operator: dict[str, list[int]] = {}
    for key, value in by_key.items():
        op, kind = key.rsplit(".", 1)
        by_operator.setdefault(op, [0, 0])[0 if kind == "mult" else 1] += int(value)
    return {"mults": int(mults), "adds": int(adds), "ops": int(mults + adds), "by_operator": by_operator,
            "unsupported_ops": unsupported,
            "rule": "multiply-add = 1 mult + 1 add; comparison = 1 add; transcendental = 1 mult; per output element"}
