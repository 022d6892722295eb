"""The Python API for notebooks: the same library calls the command line makes, no second code path.

    import fercomp
    fercomp.save_submission(model, "submissions/team.py")   # the file and weights the contract wants
    fercomp.check("submissions/team.py").passed
    fercomp.train("submissions/team.py", "fer2013.csv", epochs=3, device="cuda", precision="bf16")
    record = fercomp.score("submissions/team.py", "fer2013.csv", split="PublicTest")
    fercomp.predict("submissions/team.py", data="fer2013.csv", n=8).rows()
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from pathlib import Path

from fercomp.errors import UsageError


def check(submission, device: str = "auto", allow_random_init: bool = False, weights=None):
    """`fercomp check`: the CheckReport (`.passed`, `.items`, `.to_dict()`)."""
    from fercomp.checking import check_submission
    from fercomp.devices import validate
    from fercomp.scoring import ScoreConfig

    config = ScoreConfig(data=None, out_dir=None, device=validate(device), batch_size=16,
                         weights=Path(weights) if weights else None, require_weights=not allow_random_init)
    return check_submission(submission, config)


def score(submission, data, split: str | None = None, device: str = "auto", out_dir="reports/results", **options):
    """`fercomp score`: the ScoreRecord (`.accuracy`, `.gflops`, `.efficiency`, `.to_json()`); `options` are
    ScoreConfig fields (batch_size, latency, limits, weights, …). A failed submission is a failed record."""
    from fercomp.devices import validate
    from fercomp.scoring import ScoreConfig, score_submission

    config = ScoreConfig(data=Path(data), split=split, device=validate(device),
                         out_dir=Path(out_dir) if out_dir is not None else None, **options)
    return score_submission(submission, config)


def train(submission, data, out=None, report_dir=None, progress: bool = True, recipe=None, **options):
    """`fercomp train`: the TrainResult (`.history`: one dict per epoch; `.best_val_accuracy`, `.weights_path`).
    `recipe` is a recipe file (TOML), `options` Recipe fields over it (epochs, batch_size, lr, augment, device,
    precision, train_limit, threads, …). Progress: a bar and a line per epoch, in a notebook too."""
    from fercomp.training.recipe import Recipe
    from fercomp.training.recipe_file import load_recipe
    from fercomp.training.run import train_file

    if "model_kwargs" in options:
        options["model_kwargs"] = tuple(sorted(dict(options["model_kwargs"]).items()))
    base = load_recipe(Path(recipe)) if recipe is not None else Recipe()
    try:
        chosen = base.with_changes(**options).validated()
    except TypeError as exc:
        raise UsageError(f"fercomp.train: {exc}") from None
    return train_file(Path(submission), Path(data), chosen, out, report_dir, progress=progress)


def predict(submission, images=None, data=None, **options):
    """`fercomp predict`: Predictions (`.rows()`, `.probabilities`, `.to_dict()`)."""
    from fercomp.prediction import predict as run

    return run(Path(submission), images=[Path(p) for p in images or []], data=Path(data) if data else None, **options)


def _source(obj) -> str:
    """The source of a class or function. A class defined in a notebook has no file (inspect.getsource
    refuses it before Python 3.13), but its methods' code points at the cell, which IPython keeps in
    linecache: find `class Name` above a method there and take its block."""
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        if not inspect.isclass(obj):
            raise
    import linecache
    import re

    for member in vars(obj).values():
        code = getattr(member, "__code__", None)
        if code is None:
            continue
        lines = linecache.getlines(code.co_filename)
        for start in range(min(code.co_firstlineno, len(lines)) - 1, -1, -1):
            if re.match(rf"\s*class\s+{obj.__name__}\b", lines[start]):
                return textwrap.dedent("".join(inspect.getblock(lines[start:])))
    raise OSError(f"no source for {obj.__name__}")


def _installed(obj) -> bool:
    """Whether `obj` comes from an installed package or the standard library (the worker can import it),
    rather than from the team's notebook or a file of their own (whose source must go into the hand-in)."""
    import sysconfig

    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    file = getattr(module, "__file__", None)
    if module is None or file is None or module.__name__.startswith("__main__"):
        return False
    roots = {Path(sysconfig.get_paths()[k]).resolve() for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return any(root in Path(file).resolve().parents for root in roots)


def _names(source: str) -> tuple[list[str], set[str]]:
    """(names the source reads, in order; names it binds itself: arguments, assignments, its own defs)."""
    tree = ast.parse(source)
    read, bound = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read.append if isinstance(node.ctx, ast.Load) else bound.add)(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node not in tree.body:
            bound.add(node.name)
    return list(dict.fromkeys(read)), bound


class _HandIn:
    """The top of a hand-in written from live objects: the imports, literal constants and sources (each
    after what it uses) that the model's own classes need, found by following the global names they read."""

    def __init__(self) -> None:
        self.imports: list[str] = []
        self.constants: list[str] = []
        self.sources: list[str] = []
        self.missing: list[str] = []
        self._seen: set[int] = set()

    def add(self, obj, needed_by: str = "") -> None:
        if id(obj) in self._seen:
            return
        self._seen.add(id(obj))
        try:
            source = _source(obj)
        except (OSError, TypeError) as exc:
            self.missing.append(f"{obj.__name__} (its source cannot be found: {exc}; define it in a notebook cell or a file)")
            return
        read, bound = _names(source)
        namespace = _globals(obj)
        for name in read:  # builtins are not in the namespace: nothing to write for them
            if name != obj.__name__ and name in namespace:
                self._use(name, namespace[name], obj.__name__, name in bound)
        self.sources.append(source)

    def _use(self, name: str, value, user: str, bound_locally: bool) -> None:
        import types

        if isinstance(value, types.ModuleType):
            parent, _, last = value.__name__.rpartition(".")
            line = f"from {parent} import {last}" if parent else f"import {last}"
            self._once(self.imports, line + (f" as {name}" if name != last else ""))
        elif (inspect.isclass(value) or inspect.isfunction(value)) and not _installed(value):
            self.add(value, user)
        elif _importable(value):
            self._once(self.imports, f"from {value.__module__} import {value.__qualname__}"
                       + (f" as {name}" if name != value.__qualname__ else ""))
        elif _is_literal(value):
            self._once(self.constants, f"{name} = {value!r}")
        elif not bound_locally:
            self.missing.append(f"{name} (a {type(value).__name__} that {user} reads; neither importable nor a literal)")

    @staticmethod
    def _once(lines: list[str], line: str) -> None:
        if line not in lines:
            lines.append(line)

    def text(self, cls_name: str, kwargs: dict) -> str:
        parts = [f'"""Saved by fercomp.save_submission from {cls_name}."""', "\n".join(sorted(self.imports))]
        if self.constants:
            parts.append("\n".join(self.constants))
        parts += self.sources
        parts.append(f"# The keyword arguments the model (and its weights beside this file) was built with; fercomp's\n"
                     f"# commands call build_model(**BUILD_KWARGS).\nBUILD_KWARGS = {kwargs!r}\n\n\n"
                     f"def build_model(**kwargs):\n    return {cls_name}(**kwargs)")
        return "\n\n\n".join(p.strip("\n") for p in parts if p.strip()) + "\n"


def _globals(obj) -> dict:
    """The namespace `obj`'s code reads its global names from: a function's own, a class's methods' (a notebook
    cell's namespace need not be sys.modules[obj.__module__]), else its module's."""
    if inspect.isfunction(obj):
        return obj.__globals__
    for member in vars(obj).values():
        if inspect.isfunction(member):
            return member.__globals__
    module = sys.modules.get(obj.__module__)
    return vars(module) if module is not None else {}


def _importable(value) -> bool:
    """Whether `from value.__module__ import value.__qualname__` gives `value` back (a class or function of a package)."""
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
    return bool(module) and "." not in name and getattr(sys.modules.get(module), name, None) is value


def _is_literal(value) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def save_submission(model, path, extra: tuple = (), build_kwargs: dict | None = None) -> Path:
    """Write `model` as a hand-in: `path` (.py) with the source of its class and of every class and function of
    the notebook it uses (its blocks, helpers, their constants and imports; `extra` adds more), `BUILD_KWARGS`
    and `build_model()`; its state_dict beside it as <stem>.pt. The file is built and the weights loaded
    before anything is written: what cannot be written is refused by name. Returns the .py."""
    import torch

    path = Path(path)
    if path.suffix != ".py":
        raise UsageError(f"{path}: a submission is a .py file")
    cls = type(model)
    kwargs = dict(build_kwargs or {})
    if not _is_literal(kwargs):
        raise UsageError(f"fercomp.save_submission: build_kwargs={kwargs!r} must hold literals (numbers, strings, lists)")
    if _installed(cls):
        raise UsageError(f"fercomp.save_submission: {cls.__module__}.{cls.__name__} is a library's class, built by a "
                         "function of that library (e.g. torchvision.models.resnet18); write the hand-in by hand: a .py "
                         "whose build_model() builds it, and torch.save(model.state_dict(), '<stem>.pt') beside it")
    handin = _HandIn()
    # the team's own classes among the model's modules (its blocks too), then what they read, depth first
    for obj in (*extra, *dict.fromkeys(type(m) for m in model.modules() if not _installed(type(m)))):
        handin.add(obj)
    if handin.missing:
        raise UsageError(f"fercomp.save_submission: cannot write {cls.__name__} as a file: " + "; ".join(handin.missing))
    text = handin.text(cls.__name__, kwargs)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _verify(text, path, state, cls.__name__, kwargs)
    from fercomp.atomic import atomic_path, write_text

    with atomic_path(path.with_suffix(".pt")) as tmp:
        torch.save(state, tmp)
    write_text(path, text)
    return path


def _verify(text: str, path: Path, state: dict, name: str, kwargs: dict) -> None:
    """Build the written file's model (in this process: it is the notebook's own code) and load the weights
    into it strictly; a UsageError says what went wrong, and nothing is written."""
    from fercomp.submission import build

    try:
        module = build.import_source(text, str(path), f"fercomp_saved_{path.stem}")
        try:
            build.load_weights(build.build_model(module, kwargs), state, kwargs)
        finally:
            sys.modules.pop(f"fercomp_saved_{path.stem}", None)
    except build.ContractError as exc:
        raise UsageError(f"fercomp.save_submission: the file written from {name} builds a model its weights do not fit "
                         f"({str(exc)[:300]}); pass build_kwargs= with the arguments {name} was made with") from None
    except Exception as exc:  # noqa: BLE001 - whatever the written file cannot do, said in one line
        hint = (f"pass build_kwargs= with the arguments {name} was made with" if isinstance(exc, TypeError)
                else "pass what it needs in extra=(…)")
        raise UsageError(f"fercomp.save_submission: the file written from {name} does not build its model "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); {hint}") from None
