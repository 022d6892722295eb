"""Train a submission file end to end: build its model, start it (from scratch or from pretrained weights),
load the data, run the loop, and record in the hand-in how its model was built."""

from __future__ import annotations

import traceback
from pathlib import Path

from fercomp.data.source import load_data
from fercomp.errors import SubmissionError
from fercomp.training.loop import TrainResult, train
from fercomp.training.recipe import Recipe


def build_from_file(path: Path, model_kwargs: dict, label: Path | None = None):
    """(model, preprocessing spec, the keyword arguments it was built with) of a submission, built in this
    process with its BUILD_KWARGS and `model_kwargs` over them. A model that cannot be built is one
    SubmissionError naming `label` (default `path`: an ablation names the student's file, not its copy) and
    the lines of the file where it failed."""
    from fercomp.submission import build
    from fercomp.submission.contract import literal_kwargs, read_submission

    label = label or path
    files = read_submission(path)
    kwargs = literal_kwargs(files.kwargs_with(model_kwargs), str(label))
    try:
        module = build.import_source(files.source, str(files.path), f"train_{files.name}")
        return build.build_model(module, kwargs), files.preprocess, kwargs
    except build.ContractError as exc:
        raise SubmissionError(f"{label}: {exc}", exc.reason) from None
    except Exception as exc:  # noqa: BLE001 - the team's code failed: one line, with its own frames only
        raise SubmissionError(f"{label}: cannot build the model{_with(kwargs)}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}{_own_frames(exc, files.path, label)}",
                              "exception") from None


def _with(kwargs: dict) -> str:
    return f" with build_model(**{kwargs!r})" if kwargs else ""


def _own_frames(exc: BaseException, path: Path, label: Path) -> str:
    """" (at line 12 in __init__ ← line 30 in build_model)": where in the team's file it failed, innermost first."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    if not frames:
        return ""
    return f" (at {' ← '.join(f'{Path(label).name} line {f.lineno} in {f.name}' for f in reversed(frames))})"


def train_file(path: Path, data_path: Path, recipe: Recipe, weights_out: Path | None = None,
               out_dir: Path | None = None, held_out: str | None = None, resume: bool = False,
               progress: bool = True) -> TrainResult:
    """Train `path` on `data_path`; weights go where the scorer will find them unless `weights_out`, and
    the keyword arguments the model was built with are written into the file as BUILD_KWARGS."""
    from fercomp.submission.contract import record_build_kwargs, weights_target
    from fercomp.training import pretrained

    path = Path(path)
    import torch

    torch.manual_seed(recipe.seed)  # the initial weights, too, follow the seed
    model, spec, kwargs = build_from_file(path, dict(recipe.model_kwargs))
    started = pretrained.start_from(model, recipe.pretrained, recipe.init, recipe.freeze)
    if started and progress:
        for line in started.lines():
            print(line, flush=True)
    data = load_data(data_path, held_out=held_out)
    weights = Path(weights_out) if weights_out else weights_target(path)
    out_dir = Path(out_dir) if out_dir else Path("reports") / "train" / path.stem
    result = train(model, data, recipe, spec, weights, out_dir, resume=resume, progress=progress,
                   started_from=started.to_dict() if started else None, body=started.body if started else frozenset())
    if weights_out is None and record_build_kwargs(path, kwargs):
        result.files.insert(1, path)  # the .py now says how its weights' model is built
    return result
