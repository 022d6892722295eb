"""Train a submission file end to end: build its model, load the data, run the loop."""

from __future__ import annotations

from pathlib import Path

from fercomp.data.source import load_data
from fercomp.errors import SubmissionError
from fercomp.training.loop import TrainResult, train
from fercomp.training.recipe import Recipe


def build_from_file(path: Path, model_kwargs: dict):
    """(model, preprocessing spec) of a submission, built in this process."""
    from fercomp.submission import build
    from fercomp.submission.contract import read_submission

    files = read_submission(path)
    try:
        module = build.import_source(files.source, str(files.path), f"train_{files.name}")
        return build.build_model(module, model_kwargs), files.preprocess
    except build.ContractError as exc:
        raise SubmissionError(f"{path}: {exc}", exc.reason) from None


def train_file(path: Path, data_path: Path, recipe: Recipe, weights_out: Path | None = None,
               out_dir: Path | None = None, held_out: str | None = None, resume: bool = False,
               progress: bool = True) -> TrainResult:
    """Train `path` on `data_path`; weights go where the scorer will find them unless `weights_out`."""
    from fercomp.submission.contract import weights_target

    path = Path(path)
    import torch

    torch.manual_seed(recipe.seed)  # the initial weights, too, follow the seed
    model, spec = build_from_file(path, dict(recipe.model_kwargs))
    data = load_data(data_path, held_out=held_out)
    weights = Path(weights_out) if weights_out else weights_target(path)
    out_dir = Path(out_dir) if out_dir else Path("reports") / "train" / path.stem
    return train(model, data, recipe, spec, weights, out_dir, resume=resume, progress=progress)
