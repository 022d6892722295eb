"""What every operator of an exported graph costs: the one table each counter's cross-check reads.

The measurer walks the exported graph node by node on an input of the batch being counted (torch.fx's Interpreter
on fake tensors: every size is the one that batch gives, and no arithmetic is done) and prices each operator call
by its rule here:
- a **multiply-add** operator (convolution, linear, matrix products, einsum, attention) costs its multiply-adds,
  counted from its operands' shapes, each one multiplication and one addition;
- an **elementwise** operator, a reduction, a normalisation, a lookup or a comparison costs (multiplications,
  additions) per element of the largest tensor it reads or writes: a broadcast `max` costs its output, a sum its
  input, a gather from a table at least the table;
- a **pooling** window costs its window's comparisons or additions per output element, and never less than
  one addition per input element;
- a **free** operator only moves, views, copies or creates data (reshape, permute, slice, cat, a constant), or is
  the exporter's own arithmetic on symbolic sizes (`operator.mul` on the batch size, `sym_size`).

An operator the table has no rule for is never free: the node is listed in `uncosted`, which the record flags
(`uncosted_operator`) and which withholds the efficiency mark. The official figure stays fvcore's; this table
decides what is covered, prices elementwise work for the hidden-compute cross-check and MicroNet, and counts the
graph at the batch sizes it is scored at. docs/measurer-costs.md lists the table (tests keep the two in step).
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Cost:
    """A rule: `kind` is one of multiply-add, element, window, free; (mults, adds) per element or per window slot."""

    kind: str
    mults: int = 0
    adds: int = 0


MAC = Cost("multiply-add", 1, 1)
FREE = Cost("free")


def _element(mults: int, adds: int) -> Cost:
    return Cost("element", mults, adds)


def _group(names: str, cost: Cost) -> dict[str, Cost]:
    return dict.fromkeys(names.split(), cost)


#: aten operator (its overload packet's name; an in-place `op_` costs what `op` does) → rule
TABLE: dict[str, Cost] = {
    # multiply-adds: the official figure's kind of work (fvcore counts these)
    **_group("conv1d conv2d conv3d convolution _convolution conv_transpose1d conv_transpose2d conv_transpose3d "
             "linear mm addmm bmm baddbmm addbmm matmul mv addmv dot vdot einsum scaled_dot_product_attention "
             "_scaled_dot_product_flash_attention_for_cpu _scaled_dot_product_efficient_attention "
             "_scaled_dot_product_flash_attention _scaled_dot_product_cudnn_attention", MAC),
    # arithmetic
    **_group("add sub rsub relu threshold clamp_min clamp_max maximum minimum fmax fmin floor ceil round trunc frac "
             "neg abs sign sgn", _element(0, 1)),
    **_group("mul div square reciprocal sqrt rsqrt exp exp2 expm1 log log2 log10 log1p pow sin cos tan asin acos "
             "atan atan2 sinh cosh asinh acosh atanh erf erfc erfinv xlogy", _element(1, 0)),
    **_group("floor_divide", _element(1, 1)),
    **_group("remainder fmod", _element(1, 2)),
    **_group("clamp clip hardtanh relu6", _element(0, 2)),
    **_group("leaky_relu prelu softsign", _element(1, 1)),
    **_group("silu sigmoid glu", _element(2, 1)),
    **_group("elu celu tanh softplus log_sigmoid_forward logit", _element(2, 2)),
    **_group("selu", _element(3, 2)),
    **_group("hardswish", _element(2, 3)),
    **_group("hardsigmoid", _element(1, 3)),
    **_group("gelu mish", _element(4, 3)),
    **_group("lerp", _element(2, 2)),
    **_group("addcmul addcdiv", _element(2, 1)),
    # comparisons and selections: an addition each, so a table looked up by compare-and-pick is not free
    **_group("gt lt ge le eq ne logical_and logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor "
             "bitwise_not bitwise_left_shift bitwise_right_shift isnan isinf isfinite where masked_fill nan_to_num "
             "tril triu", _element(0, 1)),
    # lookups and data-dependent movement: an addition per element of the largest tensor (the table, or the output)
    **_group("index index_select gather take take_along_dim embedding roll flip index_put index_add index_copy "
             "index_fill scatter scatter_add scatter_reduce masked_scatter one_hot upsample_nearest1d "
             "upsample_nearest2d upsample_nearest3d _upsample_nearest_exact1d _upsample_nearest_exact2d "
             "_upsample_nearest_exact3d", _element(0, 1)),
    **_group("upsample_linear1d", _element(2, 1)),
    **_group("upsample_bilinear2d _upsample_bilinear2d_aa grid_sampler_2d", _element(4, 3)),
    **_group("upsample_trilinear3d", _element(8, 7)),
    **_group("upsample_bicubic2d _upsample_bicubic2d_aa", _element(16, 15)),
    # normalisation (per element of its input; eval-mode batch norm is one scale and one shift)
    **_group("batch_norm _native_batch_norm_legit_no_training _native_batch_norm_legit native_batch_norm "
             "cudnn_batch_norm", _element(1, 1)),
    **_group("layer_norm native_layer_norm group_norm native_group_norm instance_norm rms_norm _fused_rms_norm",
             _element(2, 3)),
    **_group("softmax _softmax log_softmax _log_softmax _safe_softmax", _element(2, 2)),
    # reductions (per element of the input)
    **_group("sum mean amax amin max min argmax argmin aminmax any all cumsum count_nonzero logcumsumexp "
             "sort argsort topk kthvalue median nanmedian mode msort", _element(0, 1)),
    **_group("prod cumprod", _element(1, 0)),
    **_group("norm linalg_vector_norm frobenius_norm logsumexp", _element(1, 1)),
    **_group("var std var_mean std_mean", _element(2, 2)),
    # pooling: per output element, its window's slots (at least one addition per input element)
    **_group("max_pool1d max_pool2d max_pool3d max_pool2d_with_indices max_pool3d_with_indices "
             "adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d", Cost("window", 0, 1)),
    **_group("avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d "
             "_adaptive_avg_pool2d _adaptive_avg_pool3d", Cost("window", 1, 1)),
    # free: views, copies and layout, padding and joining, constants, eval-mode dropout, the exporter's checks
    **_group("view _unsafe_view reshape flatten unflatten view_as reshape_as permute transpose t swapaxes movedim "
             "squeeze unsqueeze expand expand_as slice select narrow split split_with_sizes chunk unbind "
             "tensor_split as_strided unfold diagonal alias detach lift_fresh_copy clone contiguous _to_copy to "
             "type_as copy cat concat concatenate stack hstack vstack repeat tile constant_pad_nd pad "
             "reflection_pad1d reflection_pad2d reflection_pad3d replication_pad1d replication_pad2d "
             "replication_pad3d pixel_shuffle pixel_unshuffle channel_shuffle im2col zeros ones full empty "
             "empty_like zeros_like ones_like full_like new_zeros new_ones new_full new_empty arange linspace eye "
             "scalar_tensor fill zero dropout feature_dropout alpha_dropout feature_alpha_dropout native_dropout "
             "_assert_tensor_metadata _assert_scalar _assert_async sym_constrain_range "
             "sym_constrain_range_for_size sym_size sym_numel sym_stride sym_storage_offset", FREE),
}

#: Python functions the exporter writes for its own shape arithmetic: free when no operand is a tensor
SYMBOLIC = {operator.getitem, operator.add, operator.sub, operator.mul, operator.floordiv, operator.truediv,
            operator.mod, operator.neg, operator.pow, operator.eq, operator.ne, operator.lt, operator.le,
            operator.gt, operator.ge, operator.and_, operator.or_, math.ceil, math.floor, math.trunc, math.sqrt}
SYMBOLIC_NAMES = ("sym_float", "sym_int", "sym_max", "sym_min", "sym_not", "sym_sqrt", "sym_ite", "sym_sum")


def operator_name(target) -> str:
    """The table's key for a node's target: its aten overload packet's name, without an in-place `_`."""
    import torch

    if isinstance(target, torch._ops.OpOverload):
        name = target.overloadpacket.__name__
        return name[:-1] if name.endswith("_") and not name.startswith("_") and name[:-1] in TABLE else name
    return f"{getattr(target, '__module__', None) or 'python'}.{getattr(target, '__name__', str(target))}"


def _tensors(value) -> list:
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    return []


def _symbolic(target, args, kwargs) -> bool:
    import torch

    named = getattr(target, "__name__", "") in SYMBOLIC_NAMES and getattr(target, "__module__", "").startswith("torch")
    if not (target in SYMBOLIC or named):
        return False
    if target is operator.getitem:  # a tuple of an operator's outputs; indexing a tensor is not shape arithmetic
        return not isinstance(args[0], torch.Tensor)
    return not _tensors((args, kwargs))


def multiply_adds(name: str, args, kwargs, out) -> int:
    """The multiply-adds of one call of a multiply-add operator, from its operands' shapes."""
    out_numel = sum(t.numel() for t in _tensors(out)[:1])
    if name.startswith("conv") or name in ("convolution", "_convolution"):
        x, weight = args[0], args[1]
        transposed = "transpose" in name or (name in ("convolution", "_convolution") and bool(args[6]))
        per = weight.shape[1] * math.prod(weight.shape[2:])
        return x.numel() * per if transposed else out_numel * per
    if name == "linear":
        return out_numel * args[1].shape[-1]
    if name in ("addmm", "baddbmm", "addmv"):  # (bias, a, b): each output element sums a's last dimension
        return out_numel * args[1].shape[-1]
    if name == "addbmm":  # the batch of products is summed into one output
        return args[1].shape[0] * out_numel * args[1].shape[-1]
    if name in ("mm", "bmm", "matmul", "mv"):
        return out_numel * args[0].shape[-1]
    if name in ("dot", "vdot"):
        return args[0].numel()
    if name == "einsum":
        return _einsum(args[0], args[1])
    q, k, v = args[0], args[1], args[2]  # attention: Q·Kᵀ then weights·V
    return math.prod(q.shape[:-1]) * k.shape[-2] * (q.shape[-1] + v.shape[-1])


def _einsum(equation: str, operands) -> int:
    """Every index's size multiplied: the naive loop's multiply-adds (an upper bound for any contraction order)."""
    letters = equation.replace(" ", "").split("->")[0].split(",")
    sizes: dict[str, int] = {}
    for term, tensor in zip(letters, operands):
        term = term.replace("...", "")
        for letter, size in zip(term, tensor.shape[-len(term):] if term else ()):
            sizes[letter] = size
    batch = max((math.prod(t.shape[: t.dim() - len(term.replace("...", ""))]) for term, t in zip(letters, operands)),
                default=1)
    return batch * math.prod(sizes.values())


def _window(name: str, args, x, out) -> int:
    """A pooling call's window size: its kernel_size argument, or (adaptive) the input per output element."""
    if "adaptive" not in name and len(args) > 1:
        kernel = args[1]
        kernel = [kernel] if isinstance(kernel, int) else list(kernel)
        dims = 1 if "1d" in name else 3 if "3d" in name else 2
        return math.prod(kernel * dims if len(kernel) == 1 else kernel)
    return math.ceil(x.numel() / max(out.numel(), 1))


def node_cost(name: str, rule: Cost, args, kwargs, out) -> tuple[int, int, int]:
    """(multiply-adds, multiplications, additions) of one call under `rule`."""
    if rule.kind == "free":
        return 0, 0, 0
    if rule.kind == "multiply-add":
        macs = multiply_adds(name, args, kwargs, out)
        return macs, macs, macs
    tensors = _tensors((args, kwargs)) + _tensors(out)
    largest = max((t.numel() for t in tensors), default=0)
    if rule.kind == "element":
        return 0, rule.mults * largest, rule.adds * largest
    x, result = _tensors(args)[0], _tensors(out)[0]
    slots = result.numel() * _window(name, args, x, result)
    return 0, rule.mults * result.numel(), max(rule.adds * slots, x.numel())


def count_graph(graph_module, example) -> dict:
    """Walk `graph_module` on `example`: multiply-adds, multiplications, additions, per operator, and the uncosted."""
    import torch
    import torch.fx

    totals = {"macs": 0, "mults": 0, "adds": 0}
    by_operator: dict[str, list[int]] = {}
    uncosted: Counter = Counter()

    class Walk(torch.fx.Interpreter):
        def call_function(self, target, args, kwargs):
            out = super().call_function(target, args, kwargs)
            if _symbolic(target, args, kwargs):
                return out
            name = operator_name(target)
            rule = TABLE.get(name) if isinstance(target, torch._ops.OpOverload) else None
            if rule is None:
                uncosted[name] += 1
                return out
            macs, mults, adds = node_cost(name, rule, args, kwargs, out)
            totals["macs"] += macs
            totals["mults"] += mults
            totals["adds"] += adds
            if mults or adds:
                row = by_operator.setdefault(name, [0, 0])
                row[0] += mults
                row[1] += adds
            return out

    from torch._subclasses.fake_tensor import FakeTensorMode

    # Sizes are all a rule reads: the walk runs on fake tensors (shapes only, no arithmetic), so counting the graph
    # at the scoring batch costs no forward pass; the weights stay real tensors the fake mode reads through.
    with torch.no_grad(), FakeTensorMode(allow_non_fake_inputs=True) as mode:
        Walk(graph_module).run(mode.from_tensor(example))
    return {**totals, "ops": totals["mults"] + totals["adds"], "batch": int(example.shape[0]),
            "by_operator": by_operator, "uncosted": dict(uncosted)}


def exported_module(model, example):
    """`model` as an exported graph module (for a plain nn.Module given to a counter outside the measurer)."""
    import torch

    if isinstance(model, torch.fx.GraphModule):
        return model
    two = example[:1].expand(2, *example.shape[1:]).contiguous()  # as the worker exports: a dynamic batch
    batch = torch.export.Dim("batch", min=1, max=4096)
    with torch.no_grad():
        return torch.export.export(model, (two,), dynamic_shapes=({0: batch},), strict=False).module()


def multiply_add_operators() -> set[str]:
    return {name for name, rule in TABLE.items() if rule.kind == "multiply-add"}


PER = {"multiply-add": "multiply-add", "element": "element of the largest tensor read or written",
       "window": "window slot of each output (at least one addition per input element)", "free": "—"}


def markdown_table() -> str:
    """The table as the docs page shows it: one row per rule, its operators listed (docs/measurer-costs.md)."""
    rules: dict[Cost, list[str]] = {}
    for name, rule in TABLE.items():
        rules.setdefault(rule, []).append(name)
    order = ["multiply-add", "element", "window", "free"]
    lines = ["| rule | multiplications | additions | per | operators |", "|---|---|---|---|---|"]
    for rule in sorted(rules, key=lambda r: (order.index(r.kind), r.mults, r.adds)):
        names = ", ".join(f"`{n}`" for n in sorted(rules[rule]))
        mults, adds = ("1", "1") if rule.kind == "multiply-add" else (str(rule.mults), str(rule.adds))
        lines.append(f"| {rule.kind} | {mults} | {adds} | {PER[rule.kind]} | {names} |")
    symbolic = sorted(f"`{f.__module__.strip('_')}.{f.__name__}`" for f in SYMBOLIC)
    lines += ["", "Free on symbolic sizes only (an operand that is a tensor makes the node uncosted): "
              + ", ".join(symbolic + [f"`torch.{n}`" for n in SYMBOLIC_NAMES]) + "."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
