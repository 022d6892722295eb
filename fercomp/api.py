"""The Python API for notebooks: the same library calls the command line makes, no second code path.

    import fercomp
    fercomp.save_submission(model, "submissions/team.py")   # the file and weights the contract wants
    fercomp.check("submissions/team.py").passed
    fercomp.train("submissions/team.py", "fer2013.csv", epochs=3, device="cuda", precision="bf16")
    record = fercomp.score("submissions/team.py", "fer2013.csv", split="PublicTest")
    fercomp.predict("submissions/team.py", data="fer2013.csv", n=8).rows()
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

from fercomp.errors import UsageError

_IMPORTS = "import torch\nfrom torch import nn\nfrom torch.nn import functional as F\n"


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


def save_submission(model, path, extra: tuple = (), build_kwargs: dict | None = None) -> Path:
    """Write `model` as a hand-in: `path` (.py) with its class's source, `extra` classes or functions it uses,
    and `build_model()`; its state_dict beside it as <stem>.pt. Returns the .py. Check it with fercomp.check."""
    import torch

    path = Path(path)
    if path.suffix != ".py":
        raise UsageError(f"{path}: a submission is a .py file")
    cls = type(model)
    try:
        sources = [_source(obj) for obj in (*extra, cls)]
    except (OSError, TypeError) as exc:
        raise UsageError(f"fercomp.save_submission: the source of {cls.__name__} cannot be found ({exc}); "
                         "define it in a notebook cell or a file, not interactively") from None
    kwargs = dict(build_kwargs or {})
    text = (f'"""Saved by fercomp.save_submission from {cls.__name__}."""\n\n{_IMPORTS}\n\n'
            + "\n\n".join(sources) + f"\n\nBUILD_KWARGS = {kwargs!r}\n\n\ndef build_model():\n    return {cls.__name__}(**BUILD_KWARGS)\n")
    from fercomp.atomic import atomic_path, write_text

    write_text(path, text)
    with atomic_path(path.with_suffix(".pt")) as tmp:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    return path
