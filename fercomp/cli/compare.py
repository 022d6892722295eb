"""`fercomp compare A.json B.json`: the paired analysis of two score records on the same images."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def compare(
    first: Path = typer.Argument(..., help="A score record (<team>.<split>.json)."),
    second: Path = typer.Argument(..., help="Another record of the same split and data."),
    alpha: float = typer.Option(0.05, min=0.0, max=1.0, help="Significance level of the test."),
    as_json: bool = typer.Option(False, "--json", help="Print the analysis as one JSON document."),
) -> None:
    """Are two teams' accuracies really different? Exact McNemar test and a paired bootstrap interval.

    Both records must come from the same images (same data, split and sample ids); they are read,
    never re-scored. Exit codes: 0 printed, 2 a record is missing, malformed, failed or of other images.
    """
    from fercomp.comparisons import compare_pair, describe
    from fercomp.records import read_record
    from fercomp.render.terminal import print_comparison

    a, b = read_record(first), read_record(second)
    result = describe(compare_pair(a, b), a, b, alpha)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        print_comparison(result)


def register(app: typer.Typer) -> None:
    app.command()(compare)
