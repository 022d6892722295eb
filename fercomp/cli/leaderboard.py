"""`fercomp leaderboard`: score what is missing or stale, rank, mark, and write every format."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from fercomp.errors import UsageError


def leaderboard(
    config: Path = typer.Option(None, help="Competition config (default ./fercomp.toml, else built-in defaults)."),
    phase: str = typer.Option("public", help="public: the live board on the public split; final: the held-out split."),
    before_reveal: bool = typer.Option(False, help="Build the final phase before \\[phases] reveal (keep it private)."),
    split: str = typer.Option(None, help="Override the phase's split (never the held-out one in the public phase)."),
    data: Path = typer.Option(None, help="Override the config's data path."),
    submissions: Path = typer.Option(None, help="Override the config's submissions folder."),
    baseline: Path = typer.Option(None, help="Override the config's baseline submission."),
    results: Optional[List[Path]] = typer.Option(None, help="Merge records from these folders instead of scoring (repeatable)."),
    rescore: Optional[List[str]] = typer.Option(None, help="Score these teams again even if fresh (repeatable; 'all' for every team)."),
    jobs: int = typer.Option(1, min=1, help="Submissions scored in parallel, each worker on its own share of the cores."),
    latency: str = typer.Option("parallel", help="serial: one latency phase at a time (comparable latencies with --jobs)."),
    fmt: Optional[List[str]] = typer.Option(None, "--format", help="md, csv, latex, html, json (repeatable)."),
    out: Path = typer.Option(None, help="Folder for the --format files (default reports/leaderboard; the final phase's "
                             "reports/final, readable by you alone)."),
    report_marks: Path = typer.Option(None, help="CSV team,mark (out of the config's report maximum)."),
    roster: Path = typer.Option(None, help="CSV team,student_id,name,email: also write per-student grades-<split>.csv."),
    gradebook: str = typer.Option(None, help="canvas, moodle or blackboard: also write gradebook-<lms>-<split>.csv (needs --roster)."),
    gradebook_template: Path = typer.Option(None, help="The LMS's own gradebook export: keep its columns, fill one assignment column."),
    gradebook_column: str = typer.Option("FER competition", help="The assignment column to fill (added when the export has none)."),
    summary: bool = typer.Option(False, help="Append the Markdown leaderboard to $GITHUB_STEP_SUMMARY when set."),
    strict: bool = typer.Option(False, help="Exit 1 if any submission failed or a record was refused (default: exit 0)."),
    allow_weak_baseline: bool = typer.Option(False, "--allow-weak-baseline",
                                             help="Build the final board although the baseline does not beat always "
                                                  "answering the commonest class (\\[marks] allow_weak_baseline)."),
    as_json: bool = typer.Option(False, "--json", help="Print the board as one JSON document instead of the table."),
) -> None:
    """Rank every submission against the baseline and compute marks, in the public or the final phase.

    Exit codes: 0 written, 1 with --strict when a submission failed or a record was refused,
    2 usage/config/data error.
    """
    from fercomp import leaderboard as lb
    from fercomp.config import load_config
    from fercomp.data import duplicates
    from fercomp.phases import phase_split
    from fercomp.render import files
    from fercomp.render.terminal import console, print_final_summary, print_leaderboard, scoring_progress
    from fercomp.scoring import ScoreConfig

    final = phase == "final"  # before the reveal, nothing of it reaches a log: counts and names only
    if final and (summary or as_json):
        raise UsageError(f"{'--summary' if summary else '--json'} would put the final phase's figures in a log; its board "
                         "is written to --out, readable by you alone")
    out = Path(out or ("reports/final" if final else "reports/leaderboard"))
    if latency not in ("parallel", "serial"):
        raise UsageError(f"--latency {latency}: expected parallel or serial")
    cfg = load_config(config)
    if allow_weak_baseline:  # a try-out with a one-epoch baseline; a course sets it in fercomp.toml, or trains longer
        import dataclasses

        cfg = dataclasses.replace(cfg, marks=dataclasses.replace(cfg.marks, allow_weak_baseline=True))
    comp = cfg.competition
    duplicates.acknowledge(comp.known_duplicates)  # this config's, when --config names another file
    split = phase_split(cfg, phase, split, before_reveal)
    baseline_path = Path(baseline or comp.baseline)
    folder = Path(submissions or comp.submissions)
    formats = list(fmt or (["md", "csv", "json"] if final else []))  # the final board is read from its files
    for f in formats:
        if f not in files.FORMATS:
            raise UsageError(f"--format {f}: expected one of {', '.join(files.FORMATS)}")
    book = None
    if gradebook or gradebook_template:  # checked against the roster before anything is scored or written
        from fercomp.gradebook import prepare
        from fercomp.roster import read_roster

        if not (gradebook and roster):
            raise UsageError("--gradebook LMS and --roster go together (--gradebook-template needs both)")
        book = prepare(gradebook, read_roster(roster), gradebook_template, gradebook_column)
    refused: list[str] = []
    if results:
        records, notes, refused = lb.merge_results(list(results), split, folder, baseline_path)
    else:
        paths = lb.discover(folder) + [baseline_path]
        score_config = ScoreConfig.from_competition(cfg, Path(data or comp.data), split, phase)
        with scoring_progress() as progress:
            records, notes = lb.collect_and_score(paths, Path(comp.results), score_config, jobs, set(rescore or ()), progress,
                                                  latency)
    audit = None
    if phase == "final" and cfg.audit.enabled:
        from fercomp.audit.run import run_audit
        from fercomp.render.audit import FORMATS, write_audit

        audit = run_audit(records, baseline_path.stem, cfg.audit, split, folder, baseline_path)
    board = lb.build(records, baseline_path.stem, cfg, split, report_marks, notes, phase, refused, roster, audit)
    extra: dict[str, bytes] = {}
    if book is not None:
        from fercomp.gradebook import export

        name, data, gradebook_notes = export(book, board)
        extra[name] = data
        board.notes.extend(gradebook_notes)
    written = files.write_all(board, formats, out, extra) + (write_audit(audit, list(FORMATS), out) if audit else [])
    if final:
        print_final_summary(board, written)
    elif as_json:
        typer.echo(files.render(board, "json"), nl=False)
    else:
        print_leaderboard(board)
        for path in written:
            console.print(f"wrote {path}", highlight=False)
    if summary and os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
            fh.write(files.render(board, "md"))
    failed = [m.team for m in board.marks if m.status != "scored"]
    raise typer.Exit(1 if strict and (failed or board.refused) else 0)


def register(app: typer.Typer) -> None:
    app.command()(leaderboard)
