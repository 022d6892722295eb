"""`fercomp data …`: generate the synthetic set, and inspect a FER-2013 source."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

app = typer.Typer(help="Inspect FER-2013 sources and generate the synthetic FER-format data set.", no_args_is_help=True)


class Layout(str, Enum):
    csv = "csv"
    folder = "folder"


@app.command()
def synth(
    out: Path = typer.Argument(..., help="Where to write: a .csv file, or a folder for --layout folder."),
    layout: Layout = typer.Option(Layout.csv, help="csv: Kaggle fer2013.csv; folder: train/<class>/*.png."),
    n_train: int = typer.Option(28709, min=0, help="Training images."),
    n_public: int = typer.Option(3589, min=0, help="PublicTest (validation) images."),
    n_private: int = typer.Option(3589, min=0, help="PrivateTest (held-out) images."),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same bytes."),
) -> None:
    """Write a synthetic FER-format data set (faces whose expression is carried by geometry)."""
    from fercomp.data.synth import SynthSpec, write

    spec = SynthSpec(n_train=n_train, n_public=n_public, n_private=n_private, seed=seed)
    counts = write(out, spec, layout.value)
    typer.echo(f"wrote {out} ({layout.value}, seed {seed}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@app.command()
def info(
    path: Path = typer.Argument(..., help="A fer2013.csv or a folder with train/ and test/."),
    held_out: str = typer.Option(None, help="Which split is held out (default PrivateTest, or test for folders)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Per-split, per-class counts, image and duplicate checks, and which split is held out."""
    from fercomp.data import duplicates
    from fercomp.data.info import summarize
    from fercomp.data.source import load_data
    from fercomp.render.terminal import print_data_summary

    data = load_data(path, held_out=held_out, announce=False)
    summary = summarize(data, duplicates.known_duplicates())
    duplicates.announce(path, data.source_sha256, summary.duplicates_across_splits, hint=False)
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        print_data_summary(summary)
