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
    recipe: Optional[Path] = typer.Option(None, help="A recipe file (TOML, keys = these options); options given "
                                                     "here override it."),
    out: Path = typer.Option(None, help="Weights file (default: where `fercomp score` looks: WEIGHTS or <stem>.pt)."),
    report_dir: Path = typer.Option(None, help="History and curves folder (default reports/train/<name>)."),
    optimizer: Optional[str] = typer.Option(None, help="adam (default), adamw or sgd."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (peak rate for onecycle); default 1e-3."),
    schedule: Optional[str] = typer.Option(None, help="constant (default), onecycle, cosine or step."),
    weight_decay: Optional[float] = typer.Option(None, min=0, help="Default 0."),
    grad_clip: Optional[float] = typer.Option(None, min=0, help="Clipping threshold; 0 (default) = off."),
    grad_clip_mode: Optional[str] = typer.Option(None, help="norm (default: clip_grad_norm_) or value "
                                                            "(clip_grad_value_: each element into ±grad-clip)."),
    batch_size: Optional[int] = typer.Option(None, min=1, help="Default 400."),
    epochs: Optional[int] = typer.Option(None, min=1, help="Default 10."),
    early_stopping: Optional[int] = typer.Option(None, min=0, help="Stop after N epochs without a better validation accuracy."),
    loss: Optional[str] = typer.Option(None, help="ce (default), label_smoothing, class_weighted or focal."),
    augment: Optional[List[str]] = typer.Option(
        None, help="NAME or NAME:KEY=VALUE,… (repeatable), e.g. crop:padding=2,mode=reflect; names: flip, crop, "
                   "affine, rotate, autocontrast, brightness, erasing, mixup (parameters as torchvision's)."),
    model_kwarg: Optional[List[str]] = typer.Option(None, help="KEY=VALUE passed to build_model (JSON values), repeatable."),
    seed: Optional[int] = typer.Option(None, help="Default 0."),
    train_limit: Optional[int] = typer.Option(None, min=0, help="Train on a fixed, seeded, class-stratified subset "
                                                                "of N images (a quick trial); 0 = all."),
    threads: Optional[int] = typer.Option(None, min=0, help="CPU threads; 0 (default) = one per core idle now."),
    pretrained: Optional[str] = typer.Option(None, help="Start from ImageNet weights: imagenet (the torchvision "
                                             "architecture's default, downloaded into torchvision's cache) or a name "
                                             "such as ResNet18_Weights.IMAGENET1K_V1. An RGB stem is summed to 1 "
                                             "channel; a head of another size starts fresh."),
    init: Optional[Path] = typer.Option(None, help="Start from this state dict file instead (same adaptation)."),
    freeze: Optional[str] = typer.Option(None, help="Keep fixed: body (all but the new head) or module names, "
                                         "comma-separated (e.g. features.0,features.1)."),
    body_lr: Optional[float] = typer.Option(None, min=0, help="Learning rate of the pretrained tensors "
                                            "(default: --lr); the new head trains at --lr."),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in the report folder."),
    device: Optional[str] = typer.Option(None, help="auto (default: CUDA when there is one), cpu, cuda or cuda:N."),
    precision: Optional[str] = typer.Option(None, help="fp32 (default), bf16 (autocast) or fp16 (autocast + gradient scaling)."),
    compile: Optional[bool] = typer.Option(None, "--compile", help="torch.compile the model (falls back to eager with a warning)."),
    deterministic: Optional[bool] = typer.Option(None, "--deterministic/--no-deterministic",
                                                 help="Deterministic kernels (slower on CUDA)."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as one JSON document (no progress bar)."),
) -> None:
    """Train on Training, validate on PublicTest every epoch, keep the best epoch's weights.

    The defaults are the competition's baseline recipe: Adam, lr 1e-3, batch 400, 10 epochs, no augmentation.
    """
    from fercomp.render.terminal import console
    from fercomp.training.recipe import Recipe
    from fercomp.training.recipe_file import load_recipe
    from fercomp.training.run import train_file

    given = {k: v for k, v in dict(
        optimizer=optimizer, lr=lr, schedule=schedule, weight_decay=weight_decay, grad_clip=grad_clip,
        grad_clip_mode=grad_clip_mode, batch_size=batch_size, epochs=epochs, early_stopping=early_stopping, loss=loss,
        seed=seed, train_limit=train_limit, threads=threads, device=device, precision=precision, compile=compile,
        deterministic=deterministic, pretrained=pretrained, init=str(init) if init else None, freeze=freeze,
        body_lr=body_lr).items() if v is not None}
    if augment:
        given["augment"] = tuple(augment)
    if model_kwarg:
        given["model_kwargs"] = tuple(sorted(_kwargs(model_kwarg).items()))
    chosen = (load_recipe(recipe) if recipe else Recipe()).with_changes(**given).validated()
    result = train_file(submission, data, chosen, out, report_dir, resume=resume, progress=not as_json)
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
