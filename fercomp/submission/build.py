"""The submission contract, worker side: import the file, build the model, load its weights.

Runs only inside the sandboxed worker. Accepted model forms, in order: `build_model(**kwargs)`,
a module-level `model` instance, or the nn.Module subclass defined in the file whose constructor takes no
arguments (or `num_classes=7`): helper blocks that need arguments are not candidates, and among several
candidates the one no other class of the file builds is the model.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import sys
import types
from pathlib import Path

import torch
from torch import nn

from fercomp.submission.protocol import WORKER_REASONS

FORMS = ("build_model() returning an nn.Module, a module-level `model = ...` instance, or an nn.Module subclass "
         "constructible with no arguments")


class ContractError(Exception):
    """A contract breach inside the worker: `reason` is the recorded name."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in WORKER_REASONS:  # the trusted side would read it as a forgery (protocol.WORKER_REASONS)
            raise ValueError(f"{reason!r} is not one of protocol.WORKER_REASONS")
        super().__init__(message)
        self.reason = reason


def import_source(source: str, filename: str, name: str) -> types.ModuleType:
    """Execute the submission's source as module `name` (its __file__ is the original path)."""
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    code = compile(source, filename, "exec")
    exec(code, module.__dict__)
    return module


@contextlib.contextmanager
def initialisers_skipped(skip: bool):
    """While building a model whose every tensor a strict weight load will overwrite, nn.init fills zeros.

    Random initialisation is most of the build time of a large model (0.5 s of the baseline's 26 M
    parameters) and its result is discarded; zeros keep anything derived from it deterministic.
    """
    if not skip:
        yield
        return
    names = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_") and callable(getattr(nn.init, n))]
    saved = {n: getattr(nn.init, n) for n in names}

    def zero_fill(tensor, *args, **kwargs):
        with torch.no_grad():
            return tensor.zero_()

    for n in names:
        setattr(nn.init, n, zero_fill)
    try:
        yield
    finally:
        for n, original in saved.items():
            setattr(nn.init, n, original)


def build_model(module: types.ModuleType, kwargs: dict) -> nn.Module:
    """Find and build the model by the contract's forms."""
    if callable(getattr(module, "build_model", None)):
        model = module.build_model(**kwargs)
        if not isinstance(model, nn.Module):
            raise ContractError("no_model", f"build_model() returned {type(model).__name__}, not an nn.Module")
        return model
    if kwargs:
        raise ContractError("no_model", "model keyword arguments need a build_model(**kwargs) function")
    if isinstance(getattr(module, "model", None), nn.Module):
        return module.model
    classes = [
        obj for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, nn.Module) and obj.__module__ == module.__name__
    ]
    if not classes:
        raise ContractError("no_model", f"expected {FORMS}; found no nn.Module subclass")
    buildable = {cls: args for cls in classes if (args := _no_argument_call(cls)) is not None}
    if not buildable:
        cls = classes[0]
        needed = [p.name for p in _required(cls)]
        raise ContractError("no_model", f"{cls.__name__}() needs arguments {needed}; add a build_model() function")
    chosen = list(buildable)
    if len(chosen) > 1:  # a network and its no-argument helper blocks: the one no other class builds
        chosen = [cls for cls in chosen if not any(cls.__name__ in _names_used(other) for other in classes if other is not cls)]
    if len(chosen) != 1:
        names = ", ".join(c.__name__ for c in (chosen or buildable))
        first = (chosen or list(buildable))[0].__name__
        raise ContractError("no_model", f"several nn.Module classes could be the model ({names}); say which: add "
                            f"`def build_model(): return {first}()`")
    return chosen[0](**buildable[chosen[0]])


def _required(cls: type) -> list[inspect.Parameter]:
    params = inspect.signature(cls.__init__).parameters
    return [p for n, p in params.items() if n != "self" and p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _no_argument_call(cls: type) -> dict | None:
    """The keyword arguments that build `cls` the contract's way ({} or num_classes=7), or None if it needs others."""
    required = [p.name for p in _required(cls)]
    return {} if not required else {"num_classes": 7} if required == ["num_classes"] else None


def _names_used(cls: type) -> set[str]:
    """Every global name the class's own methods mention (nested code included): which classes it builds."""
    names: set[str] = set()
    todo = [f.__code__ for f in vars(cls).values() if inspect.isfunction(f)]
    while todo:
        code = todo.pop()
        names.update(code.co_names)
        todo += [c for c in code.co_consts if inspect.iscode(c)]
    return names


def _state_dict_from(obj, trust_pickle: bool) -> dict:
    if isinstance(obj, nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                return obj[key]
            if isinstance(obj.get(key), nn.Module) and trust_pickle:
                return obj[key].state_dict()
        return obj
    raise ContractError("weights_format", f"weights file holds a {type(obj).__name__}, not a state_dict")


def read_state_dict(data: bytes | Path, fmt: str, trust_pickle: bool) -> dict:
    """A state_dict from a weight file (memory-mapped where the format allows: safetensors, and torch.save's
    zip archive) or its bytes: safetensors, or torch.load(weights_only=True)."""
    if fmt == "safetensors":
        from safetensors.torch import load as load_safetensors
        from safetensors.torch import load_file

        return load_file(data) if isinstance(data, Path) else load_safetensors(data)
    head = _head(data)
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # torch.save's zip archive, or a legacy pickle
        raise ContractError(
            "not_weights",
            f"the weights file is not a torch or safetensors file (it starts with {head!r}); pass the file "
            "written by torch.save(model.state_dict(), path)",
        )
    # mmap: the tensors are read from the page cache as load_weights copies them, not parsed into memory first
    source, mmap = (data, head.startswith(b"PK")) if isinstance(data, Path) else (io.BytesIO(data), False)
    try:
        obj = torch.load(source, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:
        if not trust_pickle:
            raise ContractError(
                "pickled_model_refused",
                "weights are not a plain state_dict (torch.load(weights_only=True) refused: "
                f"{str(exc).splitlines()[0][:160]}); save them with torch.save(model.state_dict(), path), "
                "or an organiser may pass --trust-pickle",
            ) from None
        obj = torch.load(data if isinstance(data, Path) else io.BytesIO(data), map_location="cpu", weights_only=False)
    return _state_dict_from(obj, trust_pickle)


def _head(data: bytes | Path) -> bytes:
    if isinstance(data, Path):
        with open(data, "rb") as fh:
            return fh.read(24)
    return data[:24]


def load_weights(model: nn.Module, state: dict, kwargs: dict | None = None) -> None:
    """Load `state` strictly, after stripping a DataParallel `module.` prefix; list every problem, and the
    keyword arguments the model was built with (weights trained with others are the usual cause)."""
    if state and all(isinstance(k, str) and k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)):
        if items:
            shown = ", ".join(items[:8]) + (f" … (+{len(items) - 8})" if len(items) > 8 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        # What to do about it. The usual causes: weights trained with other build_model keyword arguments
        # (BUILD_KWARGS, which fercomp train records), or a file left from another model or an older version.
        built = f"build_model(**{dict(kwargs)!r})" if kwargs else "build_model() with its defaults (no BUILD_KWARGS)"
        advice = (f"the model was built as {built}; if the weights were trained with other model keyword arguments, "
                  "set BUILD_KWARGS in the .py to those (fercomp train --model-kwarg writes it); otherwise they "
                  "belong to another architecture or an older version of this one: retrain, or pass --weights")
        raise ContractError("weights_mismatch", "; ".join(problems) + f" — {advice}")
    model.load_state_dict(state, strict=True)
