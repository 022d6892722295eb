"""The measurer: the process that decides every figure, and never imports a submitted file.

It loads the program the worker exported (torch.export's .pt2) and does everything a mark depends on, on that
one graph: the accuracy pass (outputs only; the trusted parent keeps the labels and computes the metrics),
FLOPs with fvcore, FlopCounterMode, ptflops and the MicroNet counter, batch-1 latency, and the machine probe.
So the graph that is counted is the graph that is scored, and nothing a hand-in did at import, build or trace
time can reach a counter: none of its Python exists here.

The artifact was written by the worker, that is, by the attacker. torch.export.load unpickles parts of it
(weights with `weights_only=False`, "opaque object" constants with plain pickle.loads), so loading is made
safe here: TORCH_FORCE_WEIGHTS_ONLY_LOAD makes every torch.load a weights-only one and plain unpickling is
refused while the artifact loads; the graph may call only ATen operators (no custom or higher-order ones, no
file readers, nothing that changes a tensor in place or keeps state between calls) and, on sizes alone, the
exporter's own shape arithmetic; every tensor in it must have a static, dense shape but for the batch dimension
(a size that depends on the data would let the count on one example differ from the work on another). It runs
in a jail of its own as well (defence in depth), fresh per hand-in.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback

from fercomp import devices
from fercomp.submission import protocol, sandbox

#: ATen operators an exported FER model may not call although they are ATen: they read files or the clock.
FORBIDDEN_OPS = {"from_file", "_local_scalar_dense", "save", "load", "_print"}

#: The Python operators torch.export writes for arithmetic on symbolic sizes (a ViT's `batch * heads` before a
#: reshape), as torch.export's serializer names them. Allowed on integer and boolean sizes only (shape_arithmetic):
#: they never touch a tensor, so they cost nothing. Float ones (truediv, pow, sym_float, sym_sqrt) are left out:
#: a size is a whole number, and a float made from the batch size could only serve as a tensor's scalar.
SHAPE_OPERATORS = ("mul", "add", "sub", "floordiv", "mod", "neg", "pos", "eq", "ne", "le", "ge", "lt", "gt")
SHAPE_SYM_FUNCTIONS = ("sym_int", "sym_max", "sym_min", "sym_not", "sym_ite")


class MeasureError(Exception):
    """Something about the exported program that ends the hand-in: `reason` is recorded."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _refuse_pickle(*args, **kwargs):
    raise MeasureError("artifact_refused", "the exported program holds pickled objects other than tensors")


@contextlib.contextmanager
def _weights_only():
    """Every torch.load weights-only (torch reads TORCH_FORCE_WEIGHTS_ONLY_LOAD at each call, over an explicit
    weights_only=False), and plain unpickling refused, while an archive loads; restored afterwards."""
    import pickle

    import torch

    saved = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD"), pickle.loads, torch._C._pickle_load_obj
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    pickle.loads, torch._C._pickle_load_obj = _refuse_pickle, _refuse_pickle
    try:
        yield
    finally:
        pickle.loads, torch._C._pickle_load_obj = saved[1], saved[2]
        if saved[0] is None:
            os.environ.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD", None)
        else:
            os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = saved[0]


@contextlib.contextmanager
def _received_artifact(channel):
    """The exported program the parent sends as a read-only descriptor (SCM_RIGHTS on the artifact socket): no
    host path, nothing the measurer could write."""
    import socket

    _, fds, _, _ = socket.recv_fds(channel, 1, 1)
    if len(fds) != 1:
        raise MeasureError("protocol", "no exported program came with the load request")
    with os.fdopen(fds[0], "rb") as artifact:
        yield artifact


def load_program(artifact):
    """The exported program in `artifact` (a path or a binary file), loaded without running any pickled code, its
    graph checked."""
    import torch

    try:
        with _weights_only():
            program = torch.export.load(artifact)
    except MeasureError:
        raise
    except Exception as exc:  # noqa: BLE001 - a crafted or truncated archive
        raise MeasureError("artifact_refused", f"the exported program could not be loaded safely: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:300] if str(exc) else ''}") from None
    check_graph(program)
    return program


def check_graph(program) -> None:
    """Only ATen operators (getitem on their tuple outputs, arithmetic on sizes) may be called by the graph, and
    every tensor has a dense layout and a static shape but for the batch dimension."""
    import operator

    import torch

    _static_shapes(program)
    _no_memory(program)
    shape_functions = shape_arithmetic_targets()
    for node in program.graph.nodes:
        if node.op in ("placeholder", "output", "get_attr"):
            continue
        target = node.target
        if node.op != "call_function":
            raise MeasureError("not_exportable", f"the exported graph has a {node.op} node ({target}); only operator calls are allowed")
        if target is operator.getitem and _is_sequence(node.args[0]):
            continue
        if target in shape_functions:
            _check_shape_arithmetic(node)
            continue
        if not isinstance(target, torch._ops.OpOverload) or target.namespace != "aten":
            raise MeasureError("not_exportable", f"the exported graph calls {target}, which is not an ATen operator "
                               "(custom and higher-order operators cannot be measured)")
        if target._opname in FORBIDDEN_OPS:
            raise MeasureError("not_exportable", f"the exported graph calls aten.{target._opname}, which a model may not use")


def _no_memory(program) -> None:
    """A graph may not change its weights, buffers, constants or input, nor a view of one (an exported graph changes
    its own intermediate results in place: relu_, add_): its answers would then depend on what ran before them, so
    a re-score that takes its kept FLOP counts (the counters run it) would answer otherwise, and its first calls
    could differ from the ones the consistency checks repeat. Nor may its signature ask for such a change to be
    written back (a buffer mutation, which the loaded program applies after every call)."""
    import operator

    import torch
    from torch.export.graph_signature import OutputKind

    written_back = [spec.target or spec.arg.name for spec in program.graph_signature.output_specs
                    if spec.kind != OutputKind.USER_OUTPUT]
    if written_back:
        raise MeasureError("not_exportable", f"the exported graph changes {', '.join(sorted(written_back)[:3])} on "
                           "every call; a model's answer may depend on its input alone (no state kept between calls)")
    # each node that may share memory with a placeholder → that placeholder's name (an operator's schema marks the
    # arguments its result may alias, and those it writes)
    held = {node: str(node.target) for node in program.graph.nodes if node.op == "placeholder"}
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        if node.target is operator.getitem:  # an item of a view's tuple (split, unbind) is a view
            if node.args[0] in held:
                held[node] = held[node.args[0]]
            continue
        schema = getattr(node.target, "_schema", None)  # the shape arithmetic has none: sizes only
        for index, argument in enumerate(schema.arguments if schema else ()):
            value = node.args[index] if index < len(node.args) else node.kwargs.get(argument.name)
            values = value if isinstance(value, (list, tuple)) else [value]
            reached = [held[v] for v in values if isinstance(v, torch.fx.Node) and v in held]
            if argument.alias_info is None or not reached:
                continue
            if argument.alias_info.is_write:
                raise MeasureError("not_exportable", f"the exported graph changes {reached[0]} in place "
                                   f"(aten.{node.target._opname}); a model's answer may depend on its input alone "
                                   "(no state kept between calls)")
            held[node] = reached[0]


def no_hidden_writes(program, example) -> None:
    """The graph run once on `example`, each operator that writes checked at the memory it writes: an operator may
    return its argument's memory without its schema saying so (_unsafe_view, dropout, type_as, lift), which
    _no_memory, reading the schemas, cannot see. A write into a weight's, a buffer's, a constant's or the input's
    memory is refused before it happens."""
    import torch
    from torch.export.graph_signature import InputKind

    inputs = [example if spec.kind == InputKind.USER_INPUT else program.state_dict.get(spec.target, program.constants.get(spec.target))
              for spec in program.graph_signature.input_specs]  # in the order of the graph's placeholders
    held = {t.untyped_storage().data_ptr() for t in inputs if isinstance(t, torch.Tensor)} - {0}

    class Checked(torch.fx.Interpreter):
        def call_function(self, target, args, kwargs):
            schema = getattr(target, "_schema", None)
            for index, argument in enumerate(schema.arguments if schema else ()):
                if argument.alias_info is None or not argument.alias_info.is_write:
                    continue
                value = args[index] if index < len(args) else kwargs.get(argument.name)
                for tensor in value if isinstance(value, (list, tuple)) else [value]:
                    if isinstance(tensor, torch.Tensor) and tensor.untyped_storage().data_ptr() in held:
                        raise MeasureError("not_exportable", f"the exported graph writes into its weights or its input "
                                           f"(aten.{target._opname}); a model's answer may depend on its input alone "
                                           "(no state kept between calls)")
            return super().call_function(target, args, kwargs)

    with torch.no_grad():
        Checked(program.graph_module).run(*inputs)


def shape_arithmetic_targets() -> frozenset:
    """The callables of SHAPE_OPERATORS and SHAPE_SYM_FUNCTIONS: free, and only on sizes."""
    import operator

    import torch

    return frozenset([getattr(operator, name) for name in SHAPE_OPERATORS]
                     + [getattr(torch, name) for name in SHAPE_SYM_FUNCTIONS])


def _is_sequence(arg) -> bool:
    """Whether `arg` is a node whose value is a tuple or list (a multi-output operator's), not a tensor."""
    return isinstance(getattr(arg, "meta", {}).get("val"), (list, tuple))


def _check_shape_arithmetic(node) -> None:
    """A Python operator is the exporter's arithmetic on sizes only when every argument and its result are whole
    numbers or truth values (SymInt, SymBool or constants): on a tensor it would be uncounted compute."""
    import torch

    def is_size(value) -> bool:
        return isinstance(value, (int, torch.SymInt, torch.SymBool))  # bool is an int

    args = [a.meta.get("val") if hasattr(a, "meta") else a for a in node.args]
    if node.kwargs or not all(map(is_size, args)) or not is_size(node.meta.get("val")):
        kinds = ", ".join(type(a).__name__ for a in args)
        raise MeasureError("not_exportable", f"the exported graph calls {node.target} on ({kinds}); Python operators are "
                           "allowed only as arithmetic on sizes, never on a tensor")


def _symbols(value) -> set[str]:
    import torch

    found: set[str] = set()
    for item in value if isinstance(value, (list, tuple)) else [value]:
        sizes = list(item.shape) if isinstance(item, torch.Tensor) else [item] if isinstance(item, torch.SymInt) else []
        for size in sizes:
            if not isinstance(size, int):
                found |= {str(s) for s in size.node.expr.free_symbols}
    return found


def _static_shapes(program) -> None:
    """Refuse a graph whose tensors' sizes depend on anything but the batch size: FLOPs are counted on one
    example, so a width chosen by the data (nonzero, masked_select, boolean indexing) would count one
    network and predict with another. Sparse layouts likewise cost what their values make them cost."""
    import torch

    inputs = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in program.graph_signature.user_inputs]
    if len(inputs) != 1 or not isinstance(inputs[0].meta.get("val"), torch.Tensor):
        raise MeasureError("not_exportable", "the exported graph must take exactly one tensor input")
    batch = _symbols(inputs[0].meta["val"].shape[0])
    if _symbols(list(inputs[0].meta["val"].shape[1:])):
        raise MeasureError("not_exportable", "only the batch dimension of the input may vary")
    symbol = _batch_range(program, inputs[0].meta["val"].shape[0])
    for node in program.graph.nodes:
        value = node.meta.get("val")
        extra = _symbols(value) - batch
        if extra:
            raise MeasureError("not_exportable", f"the size of {node.name} ({node.target}) depends on the data "
                               f"({', '.join(sorted(extra))}): every tensor but the batch dimension must have a fixed size")
        odd = [str(e) for e in _size_expressions(value) if symbol is not None and not _whole_batches(e, symbol)]
        if odd:
            raise MeasureError("artifact_refused", f"{node.name} ({node.target}) has the size {odd[0]}: every size that "
                               "varies must be a whole number of batches (k·batch), so that each image costs the same "
                               "wherever it sits in a batch")
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, torch.Tensor) and item.layout != torch.strided:
                raise MeasureError("not_exportable", f"{node.name} has the {item.layout} layout; only dense tensors are measured")


def _batch_range(program, size):
    """The batch symbol, after checking the program claims exactly the range the worker asked for ([1, MAX_BATCH]).

    The worker runs the hand-in, which can replace torch.export.export there: export with a larger minimum batch
    (so a slice `x[16:]` is empty at batch 1, where FLOPs are counted), then widen the saved range back. A static
    batch (an int) has no symbol and no range to check."""
    import sympy

    if isinstance(size, int):
        return None
    expr = size.node.expr
    # Unbacked symbols (u0, …: sizes the data decides) are left to the size check below, which names them.
    ranges = {str(k): (int(v.lower), int(v.upper)) for k, v in program.range_constraints.items()
              if not str(k).startswith("u")}
    if not isinstance(expr, sympy.Symbol) or ranges != {str(expr): (1, protocol.MAX_BATCH)}:
        raise MeasureError("artifact_refused", f"the exported program's batch is {expr} with ranges {ranges}; fercomp "
                           f"exports one batch dimension for sizes 1 to {protocol.MAX_BATCH}")
    return expr


def _size_expressions(value) -> list:
    import torch

    found = []
    for item in value if isinstance(value, (list, tuple)) else [value]:
        sizes = list(item.shape) if isinstance(item, torch.Tensor) else [item] if isinstance(item, torch.SymInt) else []
        found += [size.node.expr for size in sizes if not isinstance(size, int)]
    return found


def _whole_batches(expr, symbol) -> bool:
    """Whether a size is k·batch for a whole k ≥ 1 (a scalar SymInt node's value included)."""
    ratio = (expr / symbol).simplify()
    return bool(ratio.is_Integer and ratio >= 1)


def _main_dtype(tensors) -> str | None:
    """The dtype that holds the most parameter elements (e.g. "float32"), or None for a parameter-free model."""
    counts: dict[str, int] = {}
    for t in tensors:
        name = str(t.dtype).removeprefix("torch.")
        counts[name] = counts.get(name, 0) + t.numel()
    return max(counts, key=counts.get) if counts else None


def runnable(program):
    """The exported program as an nn.Module every counter can call. torch.export's module refuses .eval()
    (it was exported in eval mode already), which ptflops and fvcore call: the wrapper's train() is a no-op."""
    from torch import nn

    class Exported(nn.Module):
        def __init__(self, graph) -> None:
            super().__init__()
            self.graph = graph

        def forward(self, x):
            return self.graph(x)

        def train(self, mode: bool = True) -> "Exported":
            return self

    return Exported(program.module())


def preload() -> None:
    """Everything a measurer imports (the template imports it once, before it forks)."""
    import torch  # noqa: F401
    import torch._export.serde.serialize  # noqa: F401 - torch.export.load's machinery: imported while the worker exports
    import torch.export  # noqa: F401

    from fvcore.nn import FlopCountAnalysis  # noqa: F401

    from fercomp.measure import activations, flops, latency, roofline, sketch  # noqa: F401
    from fercomp.submission import preprocess  # noqa: F401

    flops._import_ptflops()
    # torch.fx's Interpreter (the cost table's walk) makes a progress bar, disabled, whose first one still starts
    # tqdm's monitor thread: a thread of no use here, and one that may hold tqdm's lock when the template forks.
    from torch.hub import tqdm

    if hasattr(tqdm, "monitor_interval"):
        tqdm.monitor_interval = 0


def warm_up() -> None:
    """Pay once, in the measurer template, the first-call costs each fork would otherwise pay again: the whole
    measuring path (load, the unit signatures, every counter, predict, latency, the reference graph) on a tiny
    program exported here, in memory. A fresh `torch.export.load` alone imports aot_autograd and networkx (1.8 s of a fork's 2.2 s).

    It leaves nothing a hand-in's figures could depend on: one thread throughout (no OpenMP pool is started
    before the template forks, and a fork sets its own count), warnings kept out of every log, and the random
    generator is seeded again by each fork's Measurer. tests/submission/test_forks.py compares a record forked
    from a warmed template with a fresh jail's, for a hand-in that draws random numbers."""
    import io
    import warnings

    import torch

    threads = torch.get_num_threads()
    try:
        with warnings.catch_warnings():  # on leaving, every "shown once" registry is reset
            warnings.simplefilter("ignore")
            measurer = Measurer({"threads": 1, "device": "cpu"}, None)
            artifact = io.BytesIO()
            torch.export.save(_tiny_program(torch), artifact)
            artifact.seek(0)
            measurer.adopt(load_program(artifact))
            images = bytes(3 * 48 * 48)
            measurer.unit_signatures({"shape": [3, 48, 48]}, images)  # the final phase's first call, as a fork makes it
            measurer.count_flops({"batch_sizes": [3]}, b"")
            measurer.predict({"shape": [3, 48, 48]}, images)
            measurer.measure_latency({"config": {"min_queries": 2, "min_seconds": 0.0, "warmup_queries": 1},
                                      "shape": [3, 48, 48]}, images)
            measurer.reference({}, b"")
    finally:
        torch.set_num_threads(threads)


def _tiny_program(torch):
    """A small CNN of the usual layers, exported as the worker exports (a dynamic batch, eval mode, non-strict)."""
    from torch import nn

    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 7)).eval()
    batch = torch.export.Dim("batch", min=1, max=protocol.MAX_BATCH)
    with torch.no_grad():
        return torch.export.export(model, (torch.zeros(2, 1, 48, 48),), dynamic_shapes=({0: batch},), strict=False)


class Measurer:
    """The exported model on the device, its preprocessing, and the measuring code."""

    def __init__(self, setup: dict, artifacts) -> None:
        preload()
        import torch

        from fercomp.measure import activations, flops, latency, roofline, sketch
        from fercomp.submission import preprocess

        self.torch, self.flops, self.latency, self.roofline, self.preprocess = torch, flops, latency, roofline, preprocess
        self.sketch, self.activations = sketch, activations
        torch.set_num_threads(int(setup["threads"]))  # on the cores the parent started it on (runner._pinned)
        # A graph may draw random numbers (aten.rand, dropout left on): from one seed its answers are the same on
        # every re-score, forked or fresh (torch seeds each process differently, and a fork starts from its template's).
        torch.manual_seed(0)
        self.device = torch.device(devices.resolve(torch, setup["device"]))
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
            # Full fp32 as on the CPU: TF32 convolutions (cuDNN's default) flipped a ResNet18's prediction
            # on 1 of 3,589 images between cuda and cpu on an H100; without TF32 the two agree.
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
            # cuDNN's benchmark mode picks kernels by timing them, so a loaded GPU could pick another kernel and
            # another rounding; deterministic kernels make a re-score give the same outputs bit for bit.
            # cuBLAS reads its workspace setting when its first handle is made, which is after this.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.model = None
        self.artifacts = artifacts  # the socket the parent sends each exported program's descriptor on
        self.spec = preprocess.Preprocess()
        self.channels_last = False

    def info(self) -> dict:
        """What the trusted side records about the measuring environment."""
        torch = self.torch
        info = {"torch": torch.__version__, "device": str(self.device), "threads": torch.get_num_threads(),
                "cpu_affinity": sorted(os.sched_getaffinity(0))}
        if self.device.type == "cuda":
            info["gpu_name"] = torch.cuda.get_device_name(self.device)
            info["tf32"] = torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32
            info["deterministic"] = torch.backends.cudnn.deterministic and torch.are_deterministic_algorithms_enabled()
        return info

    def load(self, header: dict, payload: bytes) -> dict:
        self.spec = self.preprocess.parse(header["preprocess"], "PREPROCESS")
        with _received_artifact(self.artifacts) as artifact:
            return self.adopt(load_program(artifact), sketch=header.get("sketch", True))

    def adopt(self, program, sketch: bool = True) -> dict:
        """Measure `program` from now on; its weights' figures (the sketch unless the parent kept it from an earlier
        score of the same bytes)."""
        with self._own_draws():
            no_hidden_writes(program, self.example())
        self.model = runnable(program)
        signature = program.graph_signature
        params = [program.state_dict[name] for name in signature.parameters]
        buffers = [program.state_dict[name] for name in signature.buffers if name in program.state_dict]
        # Tensors lifted as constants (a table in the weights that is no parameter) are weights all the same.
        constants = [t for t in program.constants.values() if isinstance(t, self.torch.Tensor)]
        tensors = params + buffers + constants
        # Every tensor the graph can read, buffers included: a table kept as a buffer must not escape the copy checks.
        named = [(name, "parameter", program.state_dict[name]) for name in signature.parameters]
        named += [(name, "buffer", program.state_dict[name]) for name in signature.buffers if name in program.state_dict]
        named += [(name, "constant", t) for name, t in program.constants.items() if isinstance(t, self.torch.Tensor)]
        return {
            **({"weights_sketch": self.sketch.sketch_tensors(self.torch, named)} if sketch else {}),
            "params_total": int(sum(p.numel() for p in params)),
            "params_trainable": int(sum(p.numel() for p in params if p.requires_grad)),
            "weight_bytes": int(sum(t.numel() * t.element_size() for t in tensors)),
            "params_bits": int(sum(p.numel() * p.element_size() * 8 for p in params)),
            "constant_elements": int(sum(t.numel() for t in constants)),
            "weights_dtype": _main_dtype(params),
            "graph_nodes": sum(1 for n in program.graph.nodes if n.op == "call_function"),
        }

    def probe(self, header: dict, payload: bytes) -> dict:
        """This machine's fp32 multiply-add rate, measured before the exported program is loaded."""
        if self.model is not None:
            raise MeasureError("protocol", "the machine probe runs only before a program is loaded")
        with self._own_draws():
            return {"macs_per_s": self.roofline.sgemm_macs_per_s(self.torch)}

    def reference(self, header: dict, payload: bytes) -> dict:
        """The reference graph's seconds per image, timed now, in this process (for the roofline check)."""
        with self._own_draws():
            return {"seconds_per_image": self.roofline.seconds_per_image_reference(self.torch)}

    def _own_draws(self):
        """Within it, random numbers come from a copy of the generator, restored on leaving. The answers (predict,
        latency) are drawn from one seed (__init__), so whatever ran before them must not move it: the machine
        probe runs only when no rate is cached, the reference graph only on the CPU, the unit signatures only for
        an audit, and the FLOP counters (which run the graph) only when no earlier score kept their counts; the
        graph's check run at load is a measurement's, not an answer's."""
        return self.torch.random.fork_rng(devices=[])

    def example(self, n: int = 1):
        gray = self.torch.full((n, 48, 48), 128, dtype=self.torch.uint8)
        return self.preprocess.apply(gray, self.spec)

    def unit_signatures(self, header: dict, payload: bytes) -> tuple[dict, bytes]:
        """Each layer's units on the run's probe faces (fercomp/measure/activations.py), on the CPU; asked for right
        after load, while the model is still as loaded (not yet on a device or channels-last)."""
        import numpy as np

        if self.model is None:
            raise MeasureError("protocol", "unit signatures need a loaded program")
        self.model.to("cpu")
        images = np.frombuffer(bytearray(payload), dtype=np.uint8).reshape(header["shape"])
        x = self.preprocess.apply(images, self.spec)
        with self._own_draws():
            described, raw = self.activations.unit_signatures(self.torch, self.model.graph, x)
        return {"unit_signatures": described}, raw

    def count_flops(self, header: dict, payload: bytes) -> dict:
        # Counted on the CPU, so counts cannot depend on the device.
        self.model.to("cpu")
        with self._own_draws():
            result = self.flops.count_all(self.model, self.example(), header.get("tolerance", self.flops.DEFAULT_TOLERANCE),
                                          graph=self.model.graph, batch_sizes=tuple(header.get("batch_sizes") or ()))
        self._to_device()
        return result

    def _to_device(self) -> None:
        torch = self.torch
        self.model.to(self.device)
        if not self.channels_last and self.spec.size >= 8:
            # channels-last convolutions ran at ~95 % of sgemm on this kind of CPU, plain NCHW at ~64 %
            try:
                self.model.to(memory_format=torch.channels_last)
                self.channels_last = True
            except RuntimeError:  # a 5-D parameter (Conv3d) has no channels-last form: the model stays as it is
                self.model.to(memory_format=torch.contiguous_format)

    def _inputs(self, payload: bytes, shape: list[int]):
        import numpy as np

        torch = self.torch
        images = np.frombuffer(bytearray(payload), dtype=np.uint8).reshape(shape)
        x = self.preprocess.apply(images, self.spec)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x.to(self.device, non_blocking=True)

    def predict(self, header: dict, payload: bytes) -> tuple[dict, bytes]:
        torch = self.torch
        self._to_device()
        x = self._inputs(payload, header["shape"])
        with torch.inference_mode():
            seconds, out = self.latency.timed_forward(self.model, x, self.device)
        if isinstance(out, (tuple, list)) and len(out) == 1:
            out = out[0]
        if not isinstance(out, torch.Tensor):
            raise MeasureError("wrong_output_type", f"forward returned {type(out).__name__}, not a tensor")
        if tuple(out.shape) != (x.shape[0], 7):
            raise MeasureError("wrong_output_shape", f"forward returned shape {list(out.shape)} for a batch of {x.shape[0]}; "
                               f"expected [{x.shape[0]}, 7]")
        if not out.is_floating_point():
            raise MeasureError("wrong_output_dtype", f"forward returned dtype {out.dtype}; expected float logits")
        out = out.detach().to("cpu", torch.float32).contiguous()
        return {"shape": list(out.shape), "forward_s": seconds}, out.numpy().tobytes()

    def measure_latency(self, header: dict, payload: bytes) -> tuple[dict, bytes]:
        self._to_device()
        config = self.latency.LatencyConfig(**header["config"])
        x = self._inputs(payload, header["shape"])
        result = self.latency.measure(self.model, x, config, self.device, float(header.get("max_seconds") or 0))
        outputs = result.pop("batch1_outputs")
        if self.device.type == "cuda":
            result["gpu_peak_memory_mb"] = self.torch.cuda.max_memory_allocated(self.device) / 2**20
        data = outputs.numpy().tobytes() if outputs is not None else b""
        result["outputs_shape"] = list(outputs.shape) if outputs is not None else None
        return result, data


def serve(cmd_fd: int, resp_fd: int, artifact_fd: int, landing=None) -> None:
    """Answer commands until the parent closes the pipe; every failure is an answer. `landing`: tests only (a forked
    measurer's, template.py), run once the parent has set the process up, where a loader exploit would land."""
    import socket

    setup, _ = protocol.receive(cmd_fd)
    if landing is not None:
        landing()
    if setup.get("jailed"):
        sandbox.libraries_found_without_processes()
    try:
        measurer = Measurer(setup, socket.socket(fileno=artifact_fd))
    except devices.DeviceUnavailable as exc:
        protocol.send(resp_fd, {"ok": False, "reason": "device_unavailable", "detail": str(exc)})
        return
    protocol.send(resp_fd, {"ok": True, "info": measurer.info()})
    handlers = {"load": measurer.load, "flops": measurer.count_flops, "predict": measurer.predict,
                "latency": measurer.measure_latency, "probe": measurer.probe, "reference": measurer.reference,
                "signatures": measurer.unit_signatures}
    while True:
        try:
            header, payload = protocol.receive(cmd_fd)
        except protocol.ProtocolError:
            return
        data = b""
        try:
            answer = handlers[header.get("command")](header, payload)
            if isinstance(answer, tuple):
                answer, data = answer
            answer = {"ok": True, **answer}
        except MeasureError as exc:
            answer, data = {"ok": False, "reason": exc.reason, "detail": str(exc)}, b""
        except Exception as exc:  # noqa: BLE001 - the exported graph failed on this input
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:]
            answer, data = {"ok": False, "reason": "exception", "detail": f"{type(exc).__name__}: {str(exc)[:500]}",
                            "traceback": tb}, b""
        protocol.send(resp_fd, answer, data)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
