"""`fercomp collect`: hand-ins by link and hash into the submissions folder (a thin shell over fercomp.collect)."""

from __future__ import annotations

from pathlib import Path

import typer


def collect(
    handins: Path = typer.Argument(..., help="CSV with the columns team,url,sha256 (e.g. a form's answers)."),
    submissions: Path = typer.Option(Path("submissions"), help="The course's submissions folder."),
    max_mb: int = typer.Option(1024, min=1, help="Largest zip downloaded, MB."),
) -> None:
    """Download each team's zip, check its sha256 and that it holds only that team's files, and unpack it into the
    submissions folder (a private route: no team sees another's hand-in).

    Exit codes: 0 every hand-in collected, 1 one was refused (its line says why; the team's earlier files stay),
    2 a bad CSV (file, line and field named).
    """
    from fercomp.collect import collect as collect_all
    from fercomp.collect import read_handins

    done = collect_all(read_handins(handins), submissions)
    for item in done:
        if item.refused:
            typer.echo(f"{item.team}: refused: {item.refused}")
        else:
            typer.echo(f"{item.team}: collected {', '.join(item.files)}")
    refused = [d.team for d in done if d.refused]
    typer.echo(f"{len(done) - len(refused)} collected, {len(refused)} refused" + (f": {', '.join(refused)}" if refused else ""))
    raise typer.Exit(1 if refused else 0)


def register(app: typer.Typer) -> None:
    app.command()(collect)
