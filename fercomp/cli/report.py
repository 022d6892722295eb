"""`fercomp report SUB`: Markdown/LaTeX fragments and figures for a team's written report."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    submission: Path = typer.Argument(..., help="The team's .py file (its weights beside it)."),
    data: Path = typer.Option(..., help="The data the record was scored on (validation faces feed the sample grid)."),
    results: Path = typer.Option(Path("reports/results"), help="Folder holding the score record."),
    split: str = typer.Option(None, help="Which split's record to report (default: the one `fercomp score` scores "
                                         "by default, the public split)."),
    history: Path = typer.Option(None, help="Training report folder (default reports/train/<name>)."),
    ablation: Path = typer.Option(None, help="A study folder whose ablation table to include."),
    out: Path = typer.Option(None, help="Output folder (default reports/report/<name>)."),
) -> None:
    """A team's report pack: Markdown/LaTeX fragments and figures from its score record.

    Model summary, the efficiency calculation written out, per-class table, confusion matrix,
    training curves, sample predictions, and the ablation table if given.
    """
    from fercomp.render.terminal import console
    from fercomp.report import build_report

    name = submission.stem
    if split is None:
        from fercomp.data.source import load_data
        from fercomp.scoring import public_split

        split = public_split(load_data(data))[0]
    written = build_report(submission, data, results, history or Path("reports/train") / name,
                           out or Path("reports/report") / name, ablation, split)
    for path in written:
        console.print(f"wrote {path}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(report)
