"""`fercomp leaderboard`: score what is missing or stale, rank, mark, and write every format."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from fercomp.errors import UsageError


def leaderboard(
    config: Path = typer.Option(None, help="Competition config (default ./fercomp.toml, else built-in defaults)."),
    split: str = typer.Option(None, help="PublicTest for the live board; default the config's held-out split."),
    data: Path = typer.Option(None, help="Override the config's data path."),
    submissions: Path = typer.Option(None, help="Override the config's submissions folder."),
    baseline: Path = typer.Option(None, help="Override the config's baseline submission."),
    results: Optional[List[Path]] = typer.Option(None, help="Merge records from these folders instead of scoring (repeatable)."),
    jobs: int = typer.Option(1, min=1, help="Submissions scored in parallel (each in its own worker)."),
    fmt: Optional[List[str]] = typer.Option(None, "--format", help="md, csv, latex, html, json (repeatable)."),
    out: Path = typer.Option(Path("reports/leaderboard"), help="Folder for the --format files."),
    report_marks: Path = typer.Option(None, help="CSV team,mark (out of the config's report maximum)."),
    summary: bool = typer.Option(False, help="Append the Markdown leaderboard to $GITHUB_STEP_SUMMARY when set."),
    strict: bool = typer.Option(False, help="Exit 1 if any submission failed (default: failed rows, exit 0)."),
) -> None:
    """Rank every submission against the baseline and compute marks.

    Exit codes: 0 written, 1 with --strict when a submission failed, 2 usage/config/data/record error.
    """
    from fercomp import leaderboard as lb
    from fercomp.config import load_config
    from fercomp.render import files
    from fercomp.render.terminal import console, print_leaderboard

    cfg = load_config(config)
    comp = cfg.competition
    split = split or comp.held_out
    baseline_path = Path(baseline or comp.baseline)
    formats = list(fmt or [])
    for f in formats:
        if f not in files.FORMATS:
            raise UsageError(f"--format {f}: expected one of {', '.join(files.FORMATS)}")
    if results:
        records, notes = lb.merge_results(list(results), split, Path(submissions or comp.submissions))
    else:
        paths = lb.discover(Path(submissions or comp.submissions)) + [baseline_path]
        score_config = _score_config(cfg, Path(data or comp.data), split)
        records, notes = lb.collect_and_score(paths, Path(comp.results), score_config, jobs)
    board = lb.build(records, baseline_path.stem, cfg, split, report_marks, notes)
    print_leaderboard(board)
    for path in files.write_all(board, formats, out):
        console.print(f"wrote {path}", highlight=False)
    if summary and os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
            fh.write(files.render(board, "md"))
    failed = [m.team for m in board.marks if m.status != "scored"]
    raise typer.Exit(1 if strict and failed else 0)


def _score_config(cfg, data: Path, split: str):
    from fercomp.scoring import ScoreConfig
    from fercomp.submission.runner import Limits

    return ScoreConfig(
        data=data, split=split, device=cfg.competition.device, out_dir=Path(cfg.competition.results),
        limits=Limits(time_limit_s=cfg.limits.time_s, memory_limit_mb=cfg.limits.memory_mb, sandbox=cfg.limits.sandbox),
        latency=cfg.latency,
    )


def register(app: typer.Typer) -> None:
    app.command()(leaderboard)
