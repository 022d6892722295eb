"""The worker: the only process that runs submitted code. Started in a fresh jail per hand-in (runner.py).

It imports the hand-in, builds the model, loads its weights and exports it with torch.export (dynamic batch,
eval mode, on the preprocessed input shape) into its home. That is all: it decides no figure. Every number
that counts is measured on the exported graph by the measurer (measurer.py), a process that never imports a
submitted file. The worker never receives labels, sample ids, images or the data path.

Commands (protocol.py frames): load → export → summary (a layer table for `check` and `report`, advisory).
The PEP 578 audit hook stays as a second layer: it turns the commonest attempts (open a file outside the
home, a socket, a subprocess) into a named `sandbox_violation` instead of a bare FileNotFoundError. The jail,
not the hook, is the boundary.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from pathlib import Path

from fercomp.submission import protocol, sandbox

ARTIFACT = "model.pt2"
MAX_BATCH = protocol.MAX_BATCH


class Worker:
    """One hand-in: build, load, export."""

    def __init__(self, setup: dict) -> None:
        import torch

        from fercomp.submission import build, preprocess

        self.torch, self.build, self.preprocess = torch, build, preprocess
        torch.set_num_threads(int(setup["threads"]))
        self.model = None
        self.spec = preprocess.Preprocess()

    def load(self, header: dict, payload: bytes) -> dict:
        torch, build = self.torch, self.build
        self.spec = self.preprocess.parse(header["preprocess"], header["filename"])
        import random

        import numpy as np

        random.seed(0)  # anything random at import or build time (a random init) is reproducible
        np.random.seed(0)  # a fresh interpreter seeds numpy from the machine's entropy; a fork has its template's
        torch.manual_seed(0)
        module = build.import_source(header["source"], header["filename"], header["module"])
        with build.initialisers_skipped(bool(header.get("weights_format"))):
            model = build.build_model(module, header.get("build_kwargs") or {})
        if header.get("weights_format"):
            state = build.read_state_dict(Path(header["weights_file"]), header["weights_format"], header.get("trust_pickle", False))
            build.load_weights(model, state, header.get("build_kwargs"))
        elif header.get("require_weights") and any(p.requires_grad for p in model.parameters()):
            raise build.ContractError("weights_missing", header["weights_hint"])
        model.eval()
        self.model = model
        return {}

    def example(self, n: int = 2):
        gray = self.torch.full((n, 48, 48), 128, dtype=self.torch.uint8)
        return self.preprocess.apply(gray, self.spec)

    def export(self, header: dict, payload: bytes) -> dict:
        """torch.export the model with a dynamic batch dimension into the home; the exporter's reason if it cannot."""
        torch = self.torch
        from torch.export import Dim

        try:
            with torch.no_grad():
                program = torch.export.export(self.model, (self.example(),), dynamic_shapes=({0: Dim("batch", min=1, max=MAX_BATCH)},),
                                              strict=False)
        except Exception as exc:  # noqa: BLE001 - every exporter failure is the hand-in's: reported with its reason
            raise self.build.ContractError("not_exportable", _export_reason(exc)) from None
        torch.export.save(program, ARTIFACT)
        return {"artifact": ARTIFACT}

    def layer_summary(self, header: dict, payload: bytes) -> dict:
        """Every leaf module: output shape on one preprocessed input, its own parameters and fvcore's FLOPs.
        Advisory, for a student's `check` and `report` tables: no mark reads it (the record's figures come
        from the measurer)."""
        import warnings

        from fvcore.nn import FlopCountAnalysis

        torch, model = self.torch, self.model
        leaves = [(name, m) for name, m in model.named_modules() if next(m.children(), None) is None]
        shapes: dict[str, object] = {}

        def keep(name):
            def hook(module, inputs, out) -> None:  # returning anything would replace the module's output
                shapes.setdefault(name, list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__)
            return hook

        hooks = [m.register_forward_hook(keep(name)) for name, m in leaves]
        try:
            with torch.no_grad():
                model(self.example(1))
        finally:
            for hook in hooks:
                hook.remove()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            analysis = FlopCountAnalysis(model, self.example(1))
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            by_module = analysis.by_module()
        return {"layers": [{"name": name or "(model)", "type": type(m).__name__, "output_shape": shapes.get(name),
                            "params": int(sum(p.numel() for p in m.parameters(recurse=False))),
                            "flops": int(by_module.get(name, 0))} for name, m in leaves]}


def _export_reason(exc: Exception) -> str:
    """The exporter's own first lines, without its long framework trace."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = " ".join(lines[:4])[:600]
    return f"{type(exc).__name__}: {text}"


def serve(cmd_fd: int, resp_fd: int) -> None:
    """Answer commands until the parent closes the pipe (or kills the jail); every failure is an answer."""
    header, _ = protocol.receive(cmd_fd)
    if header.get("jailed"):
        sandbox.libraries_found_without_processes()
    # Python ignores SIGXFSZ, and torch's archive writer then aborts or crashes at the jail's file-size limit
    # (a `crashed` record); by default the kernel ends the process with it, which the parent names.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    os.dup2(2, 1)  # the submission's prints go to the log, never into the protocol
    worker = Worker(header)
    if header.get("audit_hook", True):
        _import_before_the_hook()
        sandbox.install_audit_hook(header["readable"] + _package_metadata(), header["writable"])
    protocol.send(resp_fd, {"ok": True, "info": {"torch": worker.torch.__version__, "pid_in_jail": os.getpid()}})
    handlers = {"load": worker.load, "export": worker.export, "summary": worker.layer_summary}
    while True:
        try:
            header, payload = protocol.receive(cmd_fd)
        except protocol.ProtocolError:  # the parent closed the pipe: it is done with this worker
            return
        try:
            answer = {"ok": True, **handlers[header.get("command")](header, payload)}
        except BaseException as exc:  # noqa: BLE001 - SystemExit from submitted code is a failure to report
            answer = {"ok": False, **describe(exc)}
        answer["blocked"] = list(sandbox.BLOCKED)
        protocol.send(resp_fd, answer)


def _import_before_the_hook() -> None:
    """Import now what torch.export imports on its first call and whose import probes the system (filelock
    reads /proc/sys/kernel/random/boot_id; sympy and dynamo read their own files), so the audit hook, which
    allows only the libraries and the home, does not refuse fercomp's own exporter."""
    import importlib

    for name in ("filelock", "torch._dynamo", "torch.export", "torch._export.serde.serialize"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - absent or broken: nothing to import early
            pass


def _package_metadata() -> list[str]:
    """The *.dist-info / *.egg-info folders on sys.path: torch.export reads entry points from them (outside a
    jail, a source checkout on sys.path holds fercomp.egg-info beside the team folders the hook must refuse)."""
    found = []
    for entry in sys.path:
        try:
            found += [os.path.join(entry, n) for n in os.listdir(entry or ".") if n.endswith((".dist-info", ".egg-info"))]
        except OSError:
            continue
    return found


def describe(exc: BaseException) -> dict:
    """A failure as the protocol reports it: a reason, a detail and (for plain exceptions) the traceback."""
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
