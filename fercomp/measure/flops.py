"""FLOP counting with three independent counters, the cost table, and a cross-check between them.

The official figure is fvcore's FlopCountAnalysis (a jit trace; one multiply-add = one FLOP, as the
competition's baseline notebook counts). Two independent counters cross-check it, each restricted to
multiply-adds so that elementwise work (ReLU, pooling), which fvcore skips, does not count as a
disagreement: torch's FlopCounterMode (dispatcher-level, 2 FLOPs per multiply-add, halved here) and
ptflops (its aten backend: convolution and matrix-product calls at the dispatcher). What is covered is
decided by the cost table (costs.py), which walks the exported graph node by node: an operator it has no
rule for is `uncosted` (a flag of its own, never free), its multiply-adds must not exceed fvcore's, and its
elementwise work must not dwarf them (hidden compute). The table also counts the graph at the batch sizes
the accuracy pass uses: a graph that costs more per image there than at batch 1 (where fvcore counts) is
`batch_dependent`. The record is flagged when either counter finds more multiply-adds than the official
figure beyond the tolerance, when FlopCounterMode finds fewer than fvcore's own multiply-add operators, or
when the trace fails or warns (numpy inside forward).
"""

from __future__ import annotations

import io
import warnings

from fercomp.measure import costs, micronet

DEFAULT_TOLERANCE = 0.10


def count_fvcore(model, example) -> dict:
    """fvcore total, per-operator counts, unsupported operators and trace warnings."""
    from fvcore.nn import FlopCountAnalysis

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        analysis = FlopCountAnalysis(model, example)
        analysis.set_op_handle("aten::scaled_dot_product_attention", _attention_macs)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        total = int(analysis.total())
        by_operator = {k: int(v) for k, v in analysis.by_operator().items()}
        unsupported = {k: int(v) for k, v in analysis.unsupported_ops().items()}
    tracer = sorted({str(w.message).splitlines()[0][:200] for w in caught if "Tracer" in type(w.message).__name__})
    return {"total": total, "by_operator": by_operator, "unsupported_ops": unsupported, "trace_warnings": tracer}


def _attention_macs(inputs, outputs) -> int:
    """fvcore has no rule for attention (every torchvision transformer calls it): Q·Kᵀ and the weights times V,
    L·S·(E + Ev) multiply-adds per batch and head, as FlopCounterMode counts it (the softmax is elementwise)."""
    from math import prod

    from fvcore.nn.jit_handles import get_shape

    q, k, v = (get_shape(value) for value in inputs[:3])
    return prod(q[:-1]) * k[-2] * (q[-1] + v[-1])


def _dispatch_without_dynamo(mode_class) -> None:
    """Let a TorchDispatchMode run without importing torch._dynamo, when nothing has loaded it.

    torch wraps every mode's __torch_dispatch__ in `_disable_dynamo`, whose first call imports
    torch._dynamo (1.8 s here, more than the rest of a FLOP count) only to mark the function
    "never compile"; with dynamo not loaded nothing compiles, so the mark it caches is pre-set to the
    function itself. Should torch rename that cache, this does nothing and the import happens as before.
    """
    import sys

    raw = getattr(vars(mode_class).get("__torch_dispatch__") if mode_class else None, "__wrapped__", None)
    if "torch._dynamo" not in sys.modules and raw is not None and getattr(raw, "__dynamo_disable", None) is None:
        setattr(raw, "__dynamo_disable", raw)


def count_flop_counter_mode(model, example) -> int:
    """torch.utils.flop_counter's total (2 FLOPs per multiply-add)."""
    from torch.utils import flop_counter

    _dispatch_without_dynamo(getattr(flop_counter, "_FlopCounterMode", None))
    with flop_counter.FlopCounterMode(display=False) as mode:
        model(example)
    return int(mode.get_total_flops())


def _import_ptflops():
    """ptflops' entry point, imported without torchvision unless something already imported it.

    ptflops imports torchvision only to register DeformConv2d (its module backend); the aten backend used
    here does not need it, and the import cost 1.3 s of every score.
    """
    import sys

    if "torchvision" in sys.modules or "ptflops" in sys.modules:
        from ptflops import get_model_complexity_info
    else:
        sys.modules["torchvision"] = None  # makes `import torchvision.ops` raise ImportError, which ptflops allows
        try:
            from ptflops import get_model_complexity_info
        finally:
            del sys.modules["torchvision"]
    return get_model_complexity_info


def count_ptflops(model, example) -> int:
    """ptflops' multiply-accumulate count from its aten backend: convolution, mm, addmm, bmm and matmul
    calls seen by a dispatch mode, so it counts an exported graph (which holds no nn.Conv2d modules) too."""
    get_model_complexity_info = _import_ptflops()
    macs, _ = get_model_complexity_info(
        model,
        tuple(example.shape[1:]),
        input_constructor=lambda _: example,  # a tensor (not a dict): ptflops calls model(example)
        as_strings=False,
        print_per_layer_stat=False,
        ost=io.StringIO(),
        backend="aten",
    )
    if macs is None:
        raise RuntimeError("ptflops could not run the model")
    return int(macs)


def count_all(model, example, tolerance: float = DEFAULT_TOLERANCE, graph=None, batch_sizes: tuple[int, ...] = ()) -> dict:
    """Every counter's figure, the official GFLOPs, the cost table's walk of `graph` (the exported graph module;
    `model` exported when None) at batch 1 and at `batch_sizes`, and the cross-check verdict with its reasons."""
    import torch

    result: dict = {"tolerance": tolerance, "input_shape": list(example.shape)}
    problems: list[str] = []
    with torch.inference_mode(False), torch.no_grad():
        try:
            fv = count_fvcore(model, example)
            result.update(
                fvcore_flops=fv["total"], fvcore_by_operator=fv["by_operator"],
                fvcore_unsupported_ops=fv["unsupported_ops"], trace_warnings=fv["trace_warnings"],
            )
            if fv["trace_warnings"]:
                problems.append("the jit trace warned: " + fv["trace_warnings"][0])
        except Exception as exc:  # a model fvcore cannot trace is flagged, not fatal
            result.update(fvcore_flops=None, fvcore_error=f"{type(exc).__name__}: {str(exc)[:300]}")
            problems.append("fvcore could not trace the model")
        for key, counter in (("flop_counter_mode_flops", count_flop_counter_mode), ("ptflops_macs", count_ptflops)):
            try:
                result[key] = counter(model, example)
            except Exception as exc:
                result[key] = None
                problems.append(f"{key.split('_flops')[0].split('_macs')[0]} failed: {type(exc).__name__}: {str(exc)[:200]}")
        result.update(_table(model, graph, example, batch_sizes))
    reference = result.get("fvcore_flops")
    if reference is None and result.get("flop_counter_mode_flops") is not None:
        result["gflops_source"] = "flop_counter_mode / 2 (fvcore failed)"
        reference = result["flop_counter_mode_flops"] // 2
    else:
        result["gflops_source"] = "fvcore"
    result["gflops"] = None if reference is None else reference / 1e9
    problems += _cross_check(result, reference, tolerance)
    result["check"] = "disagree" if problems else "agree"
    result["check_detail"] = problems
    return result


def _table(model, graph, example, batch_sizes: tuple[int, ...]) -> dict:
    """The cost table's walk at batch 1 (`table`, `micronet`, `uncosted_operators`) and at each scored batch size
    (`batched`, `batch_check_detail`: where a batch costs more per image than batch 1, beyond rounding)."""
    try:
        graph = graph if graph is not None else costs.exported_module(model, example)
        one = costs.count_graph(graph, example)
        batched = [costs.count_graph(graph, example.expand(n, *example.shape[1:]).contiguous())
                   for n in sorted(set(batch_sizes) - {1})]
    except Exception as exc:  # noqa: BLE001 - a graph the table cannot walk is uncosted, never free
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
        return {"table": {"error": error}, "micronet": {"error": error}, "batched": [], "batch_check_detail": [],
                "uncosted_operators": {f"(the cost table could not walk the graph: {error})": 1}}
    rows, detail = [], []
    for count in batched:
        n = count["batch"]
        row = {"batch": n, "macs_per_image": count["macs"] / n, "ops_per_image": count["ops"] / n}
        rows.append(row)
        for key, label in (("macs", "multiply-adds"), ("ops", "operations")):
            if row[f"{key}_per_image"] > one[key] * (1 + BATCH_RELATIVE) + 1:
                detail.append(f"at batch {n} the graph makes {row[f'{key}_per_image']:,.0f} {label} per image, "
                              f"at batch 1 {one[key]:,}: it is counted at batch 1 and scored at batch {n}")
    table = {k: one[k] for k in ("macs", "mults", "adds", "ops")}
    return {"table": table, "micronet": micronet.from_table(one), "uncosted_operators": one["uncosted"],
            "batched": rows, "batch_check_detail": detail}


#: A batch's count per image may exceed batch 1's by rounding only: every honest operator's cost is linear in
#: the batch (work on the weights alone, done once per call, makes a batch *cheaper* per image, never dearer).
BATCH_RELATIVE = 1e-9


#: fvcore's operator handles that count multiply-adds (the rest of its total is elementwise work).
MAC_OPERATORS = {"conv", "linear", "matmul", "addmm", "bmm", "einsum", "baddbmm", "mm", "scaled_dot_product_attention"}


def _cross_check(result: dict, reference: int | None, tolerance: float) -> list[str]:
    """Reasons to distrust the official figure, comparing multiply-adds with multiply-adds."""
    if not reference:
        return ["the counters found no multiply-adds at all"] if reference == 0 else []
    problems = []
    others = {"FlopCounterMode": _half(result.get("flop_counter_mode_flops")), "ptflops": result.get("ptflops_macs")}
    for name, value in others.items():
        if value is not None and value > reference * (1 + tolerance):
            problems.append(f"{name} counts {value / 1e9:.4f} G multiply-adds, more than fvcore's {reference / 1e9:.4f} G")
    fvcore_macs = sum(v for k, v in result.get("fvcore_by_operator", {}).items() if k in MAC_OPERATORS)
    counted = others["FlopCounterMode"]
    if counted is not None and fvcore_macs and counted < fvcore_macs * (1 - tolerance):
        problems.append(f"FlopCounterMode ran only {counted / 1e9:.4f} G multiply-adds of fvcore's {fvcore_macs / 1e9:.4f} G")
    table_macs = (result.get("table") or {}).get("macs")
    if table_macs is not None and table_macs > reference * (1 + tolerance):
        problems.append(f"the cost table counts {table_macs / 1e9:.4f} G multiply-adds in the exported graph, more than "
                        f"fvcore's {reference / 1e9:.4f} G")
    hidden = elementwise_operations(result.get("table") or {})
    if hidden > ELEMENTWISE_RATIO * reference:
        problems.append(f"hidden_compute: the graph makes {hidden / 1e9:.4f} G elementwise operations beside "
                        f"{reference / 1e9:.4f} G counted multiply-adds (more than {ELEMENTWISE_RATIO:g}×): a matrix "
                        "product spelled as multiply and sum, a distance or a lookup table is still compute")
    return problems


#: An honest network makes a few elementwise operations (batch norm, ReLU, pooling, a residual add) per
#: output element, and each output element of a convolution or linear layer took many multiply-adds: by the
#: cost table on one input the ratio is 0.002 for the baseline, 0.023 small_cnn, 0.10 depthwise_net, 0.08
#: EfficientNet-B0, 0.004 ResNet-9, at most 0.10 over ten torchvision families (MobileNet-V3, ShuffleNet,
#: SqueezeNet, MNASNet, RegNet, ConvNeXt, Swin, ViT, GoogLeNet, DenseNet); a 1×1-convolution rule model makes 2.
#: Four is above all of them and far below compute spelled elementwise (tests/fixtures/hidden_compute.py:
#: about 8,000; spelled_convolution, an L1 nearest-neighbour lookup or a table of partial products in
#: tests/hostile: 17 and more).
ELEMENTWISE_RATIO = 4.0


def elementwise_operations(table: dict) -> int:
    """The cost table's multiplications and additions outside multiply-add operators, on the exported graph."""
    if "mults" not in table:
        return 0
    return int(table["mults"] + table["adds"] - 2 * table["macs"])


def _half(value: int | None) -> int | None:
    return None if value is None else value // 2
