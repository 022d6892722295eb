"""The worker process: the only place submitted code runs. Started by runner.py; speaks protocol.py.

Order matters: the sandbox is entered while the process is still single-threaded (stdlib only), then
torch and the measuring code are imported and their entry points remembered, and only then is the
submission's source executed. The worker never receives labels, sample ids or the data path.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from fercomp import devices
from fercomp.submission import protocol, sandbox


def _setup(cmd_fd: int, resp_fd: int) -> dict:
    sandbox.die_with_parent(int(os.environ.get("FERCOMP_PARENT_PID", os.getppid())))
    header, _ = protocol.receive(cmd_fd)
    if header.get("cores"):
        os.sched_setaffinity(0, header["cores"])
    layers, notes = [], []
    if header["sandbox"] != "off":
        try:
            sandbox.enter_namespaces(header["protected"], header.get("keep", []))
            layers.append("namespaces")
        except OSError as exc:
            notes.append(f"namespaces unavailable: {exc}")
            if header["sandbox"] == "required":
                protocol.send(resp_fd, {"ok": False, "reason": "sandbox_unavailable", "detail": notes[-1]})
                sys.exit(3)
        sandbox.set_rlimits()
        layers.append("rlimits")
    header["layers"], header["notes"] = layers, notes
    return header


def _watched() -> list[tuple[object, str]]:
    """(owner, attribute) pairs a submission could swap to shrink its numbers.

    ptflops is not among them: it is imported only when FLOPs are counted (it pulls in torchvision,
    1.3 s of start-up), and it can only raise a flag, never lower the official figure.
    """
    import time

    import fvcore.nn
    import torch
    import torch.utils.flop_counter

    from fercomp.measure import flops, latency, micronet

    return [
        (time, "perf_counter"), (latency, "_clock"), (latency, "measure"), (latency, "timed_forward"),
        (flops, "count_all"), (flops, "count_fvcore"), (flops, "count_flop_counter_mode"), (flops, "count_ptflops"),
        (flops, "count_micronet"), (micronet, "count_micronet"), (micronet, "handles"),
        (fvcore.nn, "FlopCountAnalysis"), (fvcore.nn.FlopCountAnalysis, "total"),
        (torch.utils.flop_counter, "FlopCounterMode"),
        (torch.jit, "trace"), (torch.cuda, "synchronize"), (torch.nn.Module, "__call__"),
        (torch.Tensor, "cpu"), (torch, "inference_mode"),
    ]


def _main_dtype(params) -> str | None:
    """The dtype that holds the most parameter elements (e.g. "float32"), or None for a parameter-free model."""
    counts: dict[str, int] = {}
    for p in params:
        name = str(p.dtype).removeprefix("torch.")
        counts[name] = counts.get(name, 0) + p.numel()
    return max(counts, key=counts.get) if counts else None


class Worker:
    """State of one worker: the model, its preprocessing and the device."""

    def __init__(self, setup: dict) -> None:
        import torch

        from fercomp.measure import flops, latency, roofline
        from fercomp.submission import build, preprocess

        self.torch, self.flops, self.latency, self.build, self.preprocess = torch, flops, latency, build, preprocess
        self.roofline = roofline
        torch.set_num_threads(int(setup["threads"]))
        self.device = torch.device(devices.resolve(torch, setup["device"]))
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
            # Full fp32 as on the CPU: TF32 convolutions (cuDNN's default) flipped a ResNet18's prediction
            # on 1 of 3,589 images between cuda and cpu on an H100; without TF32 the two agree.
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        self.references = {(owner, attr): getattr(owner, attr) for owner, attr in _watched()}
        self.model = None
        self.spec = preprocess.Preprocess()
        self.channels_last = False

    def info(self) -> dict:
        """What the trusted side records about this worker's environment."""
        torch = self.torch
        info = {"torch": torch.__version__, "device": str(self.device), "threads": torch.get_num_threads(),
                "start_mode": os.environ.get("FERCOMP_START_MODE", "fresh"), "cpu_affinity": sorted(os.sched_getaffinity(0))}
        if self.device.type == "cuda":
            info["gpu_name"] = torch.cuda.get_device_name(self.device)
            info["tf32"] = torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32
        return info

    def tampered(self) -> list[str]:
        """The watched entry points that no longer are what they were before the submission ran."""
        return [
            f"{getattr(owner, '__name__', type(owner).__name__)}.{attr}"
            for (owner, attr), original in self.references.items()
            if getattr(owner, attr, None) is not original
        ]

    def load(self, header: dict, payload: bytes) -> dict:
        torch, build = self.torch, self.build
        self.spec = self.preprocess.parse(header["preprocess"], header["filename"])
        # Seeded so that anything random at import or build time (a random init) is reproducible.
        import random

        random.seed(0)
        torch.manual_seed(0)
        module = build.import_source(header["source"], header["filename"], header["module"])
        with build.initialisers_skipped(bool(header.get("weights_format"))):
            model = build.build_model(module, header.get("build_kwargs") or {})
        if header.get("weights_format"):
            state = build.read_state_dict(Path(header["weights_file"]), header["weights_format"], header.get("trust_pickle", False))
            build.load_weights(model, state)
        elif header.get("require_weights") and any(p.requires_grad for p in model.parameters()):
            raise build.ContractError("weights_missing", header["weights_hint"])
        model.eval()
        self.model = model
        params = list(model.parameters())
        tensors = params + list(model.buffers())
        return {
            "params_total": int(sum(p.numel() for p in params)),
            "params_trainable": int(sum(p.numel() for p in params if p.requires_grad)),
            "weight_bytes": int(sum(t.numel() * t.element_size() for t in tensors)),
            "params_bits": int(sum(p.numel() * p.element_size() * 8 for p in params)),
            "random_init": not header.get("weights_format") and any(p.requires_grad for p in params),
            "weights_dtype": _main_dtype(params),
        }

    def probe(self, header: dict, payload: bytes) -> dict:
        """This machine's fp32 multiply-add rate, measured before any submitted code is imported."""
        if self.model is not None:
            raise self.build.ContractError("protocol", "the machine probe runs only before a submission is loaded")
        return {"macs_per_s": self.roofline.sgemm_macs_per_s(self.torch)}

    def example(self, n: int = 1):
        gray = self.torch.full((n, 48, 48), 128, dtype=self.torch.uint8)
        return self.preprocess.apply(gray, self.spec)

    def count_flops(self, header: dict, payload: bytes) -> dict:
        # Counted on the CPU, so counts cannot depend on the device; a model that already answered a
        # predict request on CUDA (fercomp check asks for outputs first) comes back for the count.
        first = next(self.model.parameters(), None)
        if first is not None and first.device.type != "cpu":
            self.model.to("cpu")
        result = self.flops.count_all(self.model, self.example(), header.get("tolerance", self.flops.DEFAULT_TOLERANCE))
        self._to_device()
        return result

    def _to_device(self) -> None:
        torch = self.torch
        if next(self.model.parameters(), None) is not None and next(self.model.parameters()).device != self.device:
            self.model.to(self.device)
        elif self.device.type == "cuda":
            self.model.to(self.device)
        if not self.channels_last and self.spec.size >= 8:
            # channels-last convolutions ran at ~95 % of sgemm on this kind of CPU, plain NCHW at ~64 %
            self.model.to(memory_format=torch.channels_last)
            self.channels_last = True

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
        if not isinstance(out, torch.Tensor):
            raise self.build.ContractError("wrong_output_type", f"forward returned {type(out).__name__}, not a tensor")
        if tuple(out.shape) != (x.shape[0], 7):
            raise self.build.ContractError(
                "wrong_output_shape", f"forward returned shape {list(out.shape)} for a batch of {x.shape[0]}; expected [{x.shape[0]}, 7]"
            )
        if not out.is_floating_point():
            raise self.build.ContractError("wrong_output_dtype", f"forward returned dtype {out.dtype}; expected float logits")
        out = out.detach().to("cpu", torch.float32).contiguous()
        return {"shape": list(out.shape), "forward_s": seconds}, out.numpy().tobytes()

    def layer_summary(self, header: dict, payload: bytes) -> dict:
        """Every leaf module: output shape on one preprocessed input, own parameters, fvcore FLOPs."""
        import warnings

        from fvcore.nn import FlopCountAnalysis

        torch, model = self.torch, self.model
        first = next(model.parameters(), None)
        example = self.example().to(first.device if first is not None else "cpu")
        leaves = [(name, m) for name, m in model.named_modules() if next(m.children(), None) is None]
        shapes: dict[str, object] = {}

        def keep(name):
            def hook(module, inputs, out) -> None:  # returning anything would replace the module's output
                shapes.setdefault(name, list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__)
            return hook

        hooks = [m.register_forward_hook(keep(name)) for name, m in leaves]
        try:
            with torch.no_grad():
                model(example)
        finally:
            for hook in hooks:
                hook.remove()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            analysis = FlopCountAnalysis(model, example)
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            by_module = analysis.by_module()
        return {"layers": [{"name": name or "(model)", "type": type(m).__name__, "output_shape": shapes.get(name),
                            "params": int(sum(p.numel() for p in m.parameters(recurse=False))),
                            "flops": int(by_module.get(name, 0))} for name, m in leaves]}

    def measure_latency(self, header: dict, payload: bytes) -> tuple[dict, bytes]:
        self._to_device()
        config = self.latency.LatencyConfig(**header["config"])
        x = self._inputs(payload, header["shape"])
        result = self.latency.measure(self.model, x, config, self.device)
        outputs = result.pop("batch1_outputs")
        if self.device.type == "cuda":
            result["gpu_peak_memory_mb"] = self.torch.cuda.max_memory_allocated(self.device) / 2**20
        data = outputs.numpy().tobytes() if outputs is not None else b""
        result["outputs_shape"] = list(outputs.shape) if outputs is not None else None
        return result, data


def _import_before_the_hook() -> None:
    """Import now what fercomp's own measuring code imports later and whose import probes the system.

    filelock (pulled in through torchvision when ptflops counts a torchvision model) reads
    /proc/sys/kernel/random/boot_id and hard-links files in a temp folder when it is imported; under the
    audit hook that failed every torchvision model as a sandbox_violation (seen with filelock 3.2x).
    """
    import importlib

    for name in ("filelock",):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - absent or broken: nothing to import early
            pass


def serve(cmd_fd: int, resp_fd: int) -> None:
    """Answer commands until the parent closes the pipe (or kills the worker); every failure is an answer."""
    setup = _setup(cmd_fd, resp_fd)
    os.dup2(2, 1)  # the submission's prints go to the log, never into the protocol
    try:
        worker = Worker(setup)
    except devices.DeviceUnavailable as exc:
        protocol.send(resp_fd, {"ok": False, "reason": "device_unavailable", "detail": str(exc)})
        return
    readable = list(setup["readable"]) + [f"/proc/{os.getpid()}"]
    if setup["sandbox"] != "off":
        _import_before_the_hook()
        sandbox.install_audit_hook(readable, setup["writable"])
        setup["layers"].append("audit")
    protocol.send(resp_fd, {"ok": True, "layers": setup["layers"], "notes": setup["notes"], "info": worker.info()})
    handlers = {"load": worker.load, "flops": worker.count_flops, "predict": worker.predict, "latency": worker.measure_latency,
                "summary": worker.layer_summary,
                "probe": worker.probe}
    while True:
        try:
            header, payload = protocol.receive(cmd_fd)
        except protocol.ProtocolError:  # the parent closed the pipe: it is done with this worker
            return
        command = header.get("command")
        data = b""
        try:
            answer = handlers[command](header, payload)
            if isinstance(answer, tuple):
                answer, data = answer
            answer = {"ok": True, **answer}
        except BaseException as exc:  # noqa: BLE001 - SystemExit from submitted code is a failure to report
            answer = {"ok": False, **_describe(exc)}
            data = b""
        answer["blocked"] = list(sandbox.BLOCKED)
        answer["tampered"] = worker.tampered()
        protocol.send(resp_fd, answer, data)


def _describe(exc: BaseException) -> dict:
    from fercomp.submission.build import ContractError

    if isinstance(exc, ContractError):
        return {"reason": exc.reason, "detail": str(exc)}
    if isinstance(exc, SystemExit):
        return {"reason": "exited", "detail": f"the submission called sys.exit({exc.code!r})"}
    if isinstance(exc, KeyboardInterrupt):
        return {"reason": "exited", "detail": "the submission raised KeyboardInterrupt"}
    if isinstance(exc, ImportError):
        return {"reason": "import_error", "detail": f"{type(exc).__name__}: {exc}"}
    if isinstance(exc, MemoryError):
        return {"reason": "memory_limit", "detail": "MemoryError inside the submission"}
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return {"reason": "exception", "detail": f"{type(exc).__name__}: {str(exc)[:500]}", "traceback": "".join(tb)[-3000:]}


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
