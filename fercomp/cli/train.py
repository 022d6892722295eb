"""`fercomp train`: train a submission by a recipe (the baseline's by default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from fercomp.errors import UsageError


def train(
    submission: Path = typer.Argument(..., help="The submission's .py file."),
    data: Path = typer.Option(..., help="A fer2013.csv or train/test folder (Training + PublicTest are used)."),
    out: Path = typer.Option(None, help="Weights file (default: where `fercomp score` looks: WEIGHTS or <stem>.pt)."),
    report_dir: Path = typer.Option(None, help="History and curves folder (default reports/train/<name>)."),
    optimizer: str = typer.Option("adam", help="adam, adamw or sgd."),
    lr: float = typer.Option(1e-3, help="Learning rate (peak rate for onecycle)."),
    schedule: str = typer.Option("constant", help="constant, onecycle, cosine or step."),
    weight_decay: float = typer.Option(0.0, min=0),
    grad_clip: float = typer.Option(0.0, min=0, help="Max gradient norm; 0 = off."),
    batch_size: int = typer.Option(400, min=1),
    epochs: int = typer.Option(10, min=1),
    early_stopping: int = typer.Option(0, min=0, help="Stop after N epochs without a better validation accuracy."),
    loss: str = typer.Option("ce", help="ce, label_smoothing, class_weighted or focal."),
    augment: Optional[List[str]] = typer.Option(
        None, help="flip, rotate, crop, affine, autocontrast, brightness, erasing, mixup (repeatable)."),
    model_kwarg: Optional[List[str]] = typer.Option(None, help="KEY=VALUE passed to build_model (JSON values), repeatable."),
    seed: int = typer.Option(0),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in the report folder."),
    device: str = typer.Option("auto", help="auto (CUDA when there is one), cpu, cuda or cuda:N."),
    precision: str = typer.Option("fp32", help="fp32, bf16 (autocast) or fp16 (autocast + gradient scaling)."),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the model (falls back to eager with a warning)."),
    deterministic: bool = typer.Option(False, help="Deterministic kernels (slower on CUDA)."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as one JSON document (no progress bar)."),
) -> None:
    """Train on Training, validate on PublicTest every epoch, keep the best epoch's weights.

    The defaults are the competition's baseline recipe: Adam, lr 1e-3, batch 400, 10 epochs, no augmentation.
    """
    from fercomp.render.terminal import console
    from fercomp.training.recipe import Recipe
    from fercomp.training.run import train_file

    recipe = Recipe(optimizer=optimizer, lr=lr, schedule=schedule, weight_decay=weight_decay, grad_clip=grad_clip,
                    batch_size=batch_size, epochs=epochs, early_stopping=early_stopping, loss=loss,
                    augment=tuple(augment or ()), seed=seed, model_kwargs=tuple(sorted(_kwargs(model_kwarg).items())), device=device,
                    precision=precision, compile=compile, deterministic=deterministic).validated()
    result = train_file(submission, data, recipe, out, report_dir, resume=resume, progress=not as_json)
    if as_json:
        typer.echo(json.dumps({"weights": str(result.weights_path), "best_epoch": result.best_epoch,
                               "best_val_accuracy": result.best_val_accuracy, "interrupted": result.interrupted,
                               "epochs": result.history, "files": [str(p) for p in result.files]}, indent=2))
        raise typer.Exit(130 if result.interrupted else 0)
    if result.interrupted:
        console.print("[yellow]interrupted: kept the best weights so far[/]")
    console.print(f"best epoch {result.best_epoch}: validation accuracy {100 * result.best_val_accuracy:.2f} %", highlight=False)
    for path in result.files:
        console.print(f"wrote {path}", highlight=False)
    raise typer.Exit(130 if result.interrupted else 0)


def _kwargs(items: list[str] | None) -> dict:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"--model-kwarg {item}: expected KEY=VALUE, e.g. dropout=0.3")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def register(app: typer.Typer) -> None:
    app.command()(train)
