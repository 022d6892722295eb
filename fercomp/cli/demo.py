"""`fercomp demo`: the whole product on synthetic data, in one command."""

from __future__ import annotations

import time
from pathlib import Path

import typer


def demo(out: Path = typer.Option(Path("reports/demo"), help="Everything is written under this folder.")) -> None:
    """The whole product on synthetic data: train, score, leaderboard with marks, ablation, report.

    Generates a synthetic FER set, trains the baseline and two teams briefly, scores them in the sandbox,
    prints the leaderboard with marks, runs a small ablation study, writes a report pack, and says where
    every file is. A second run reuses what is fresh.
    """
    from fercomp.demo import DemoPlan, run_demo
    from fercomp.render.terminal import console

    started = time.perf_counter()
    written = run_demo(DemoPlan(out=out), say=lambda text: console.print(text, highlight=False))
    console.print(f"\n[bold]demo finished in {time.perf_counter() - started:.0f} s[/]; files:", highlight=False)
    for step, paths in written.items():
        for path in paths:
            console.print(f"  {step:<12} {path}", highlight=False)
    console.print(f"  {'records':<12} {out / 'results'}/*.json", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(demo)
