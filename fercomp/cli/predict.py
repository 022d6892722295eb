"""`fercomp predict`: a thin shell over fercomp.prediction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer


def predict(
    submission: Path = typer.Argument(..., help="The submission's .py file (weights beside it, or WEIGHTS/WEIGHTS_URL)."),
    images: Optional[List[Path]] = typer.Argument(None, help="Face images of any size/format, or folders of them."),
    data: Path = typer.Option(None, help="Instead of images: a fer2013.csv or train/test folder."),
    split: str = typer.Option(None, help="With --data: the split to draw faces from (default the validation split)."),
    n: int = typer.Option(16, "--n", min=1, help="With --data: how many faces (a seeded random choice)."),
    top_k: int = typer.Option(3, min=1, max=7, help="Classes shown per image."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    weights: Path = typer.Option(None, help="Weights file (default: as `fercomp score` finds them)."),
    seed: int = typer.Option(0, help="With --data: which faces are drawn."),
    grid: Path = typer.Option(None, help="Grid PNG of the faces with their predictions (default reports/predict/<name>.png)."),
    as_json: bool = typer.Option(False, "--json", help="Print the predictions as one JSON document."),
) -> None:
    """Predict expressions for face images (or faces from a data set) in the sandboxed worker.

    Images become 48×48 grayscale as the competition data is (centre square crop, bilinear resize).
    Prints the top-k classes with probabilities and writes a grid PNG. Exit 0, or 2 on a usage error.
    """
    from fercomp.atomic import write_bytes
    from fercomp.prediction import predict as run
    from fercomp.render.report_pack import samples_png
    from fercomp.render.terminal import console, print_predictions

    result = run(submission, images=list(images or []), data=data, split=split, n=n, top_k=top_k, device=device,
                 seed=seed, weights=weights)
    best = result.probabilities.argmax(1)
    target = grid or Path("reports") / "predict" / f"{submission.stem}.png"
    write_bytes(target, samples_png(result.images, result.labels, best, result.probabilities.max(1), result.names))
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "grid": str(target)}, indent=2))
        return
    print_predictions(result)
    console.print(f"wrote {target}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(predict)
