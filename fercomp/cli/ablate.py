"""`fercomp ablate SPEC` runs a study; `fercomp ablate render STUDY…` re-renders finished ones."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer
from typer.core import TyperGroup


class _RunByDefault(TyperGroup):
    """`fercomp ablate SPEC` means `fercomp ablate run SPEC`."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_RunByDefault, no_args_is_help=True,
                  help="Ablation studies: `fercomp ablate SPEC.toml` runs one; `fercomp ablate render STUDY…` re-renders.")


@app.command()
def run(
    spec: Path = typer.Argument(..., help="The study's TOML spec."),
    out: Path = typer.Option(Path("reports/ablation"), help="Studies live in OUT/<study name>/."),
    dry_run: bool = typer.Option(False, help="List the rows, build each row's model (as training will) and stop."),
    seeds: int = typer.Option(None, min=1, help="Repeat each row with this many seeds (overrides the spec)."),
    split: str = typer.Option(None, help="Split each row is scored on (default: the held-out split)."),
    symbols: str = typer.Option("YN", help="Two characters for on/off, e.g. YN or ✓✗."),
    latency_queries: int = typer.Option(20, min=1),
    latency_seconds: float = typer.Option(0.2, min=0),
    device: str = typer.Option(None, help="Train every row here (auto, cpu, cuda, cuda:N); overrides \\[recipe]."),
    precision: str = typer.Option(None, help="fp32, bf16 or fp16 for every row; overrides \\[recipe]."),
) -> None:
    """Train and score every row of a cumulative or factorial study, then write its tables."""
    from fercomp import ablation
    from fercomp.render.terminal import console

    study = ablation.load_spec(spec)
    if seeds:
        from dataclasses import replace

        study = replace(study, seeds=seeds)
    overrides = {k: v for k, v in (("device", device), ("precision", precision)) if v is not None}
    if overrides:
        from dataclasses import replace

        study = replace(study, base=study.base.with_changes(**overrides).validated())
    rows = ablation.rows(study)
    if dry_run:
        for i, row in enumerate(rows):
            on = [m.name for m, f in zip(study.methods, row.flags) if f] or ["(base recipe)"]
            console.print(f"row {i + 1}: seed {row.seed}: {', '.join(on)}", highlight=False)
        for line in ablation.check_builds(study):
            console.print(line, highlight=False)
        raise typer.Exit(0)
    from fercomp.measure.latency import LatencyConfig
    from fercomp.scoring import ScoreConfig

    folder = out / study.name
    config = ScoreConfig(data=study.data, split=split,
                         latency=LatencyConfig(min_queries=latency_queries, min_seconds=latency_seconds))
    results = ablation.run(study, folder, config)
    ablation.write_index(study, results, folder)
    _render(folder, _symbols(symbols))


@app.command()
def render(
    studies: List[Path] = typer.Argument(..., help="Study folders written by `fercomp ablate SPEC`."),
    symbols: str = typer.Option("YN", help="Two characters for on/off, e.g. YN or ✓✗."),
) -> None:
    """Write the tables of finished studies again, from their records alone (no training)."""
    for folder in studies:
        _render(folder, _symbols(symbols))


def _symbols(text: str) -> tuple[str, str]:
    from fercomp.errors import UsageError

    if len(text) != 2:
        raise UsageError(f"--symbols {text}: give two characters, for on and off")
    return text[0], text[1]


def _render(folder: Path, symbols: tuple[str, str]) -> None:
    from fercomp import ablation
    from fercomp.render.terminal import console

    md, files = ablation.write_tables(folder, symbols)
    console.print(md, highlight=False)
    console.print(f"wrote {files[0]} and {files[1]}", highlight=False)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="ablate")
