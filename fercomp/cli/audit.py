"""`fercomp audit`: evidence that a result was fitted to the test set or copied, from the records alone."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from fercomp.errors import UsageError


def audit(
    config: Path = typer.Option(None, help="Competition config (default ./fercomp.toml, else built-in defaults)."),
    split: str = typer.Option(None, help="The records' split (default: the held-out split, as the final phase)."),
    results: Optional[List[Path]] = typer.Option(None, help="Folders of records (repeatable; default: the config's results)."),
    submissions: Path = typer.Option(None, help="Override the config's submissions folder (for hashes and code)."),
    baseline: Path = typer.Option(None, help="Override the config's baseline submission."),
    fmt: Optional[List[str]] = typer.Option(None, "--format", help="md, html, json (repeatable; default all three)."),
    out: Path = typer.Option(None, help="Folder for audit-<split>.<ext> (default: the held-out split's in reports/final, "
                             "readable by you alone, as the final phase writes it; another split's in reports/leaderboard)."),
    strict: bool = typer.Option(False, help="Exit 1 when any team is under review."),
) -> None:
    """Audit the scored records: split gaps, Training gap, ceiling, supplement, perturbation, copies.

    Reads records only (the final phase of `fercomp leaderboard` scores the audit's views). Exit codes:
    0 written, 1 with --strict when a team is flagged, 2 usage/config/record error.
    """
    from fercomp import leaderboard as lb
    from fercomp.audit.run import run_audit
    from fercomp.config import load_config
    from fercomp.render.audit import FORMATS, write_audit
    from fercomp.render.terminal import console, print_audit

    cfg = load_config(config)
    comp = cfg.competition
    formats = list(fmt or FORMATS)
    for f in formats:
        if f not in FORMATS:
            raise UsageError(f"--format {f}: expected one of {', '.join(FORMATS)}")
    split = split or comp.held_out
    baseline_path = Path(baseline or comp.baseline)
    folder = Path(submissions or comp.submissions)
    records, notes, refused = lb.merge_results(list(results or [Path(comp.results)]), split, folder, baseline_path)
    if not records:
        where = ", ".join(map(str, results or [comp.results]))
        if refused:  # records were there: say why they were left out, not that nothing was scored
            raise UsageError(f"no {split} record to audit in {where} could be used ({len(refused)} refused); the first: "
                             f"{refused[0]}")
        raise UsageError(f"no {split} records to audit in {where}; score the final phase first "
                         "(fercomp leaderboard --phase final)")
    if out is None:  # the held-out split's audit names teams and figures of the final phase: never the public folder
        out = Path("reports/final" if split == comp.held_out else "reports/leaderboard")
    if split == comp.held_out:
        from fercomp.atomic import private_folder

        private_folder(out)
    result = run_audit(records, baseline_path.stem, cfg.audit, split, folder, baseline_path)
    print_audit(result, notes + [f"refused: {r}" for r in refused])
    for path in write_audit(result, formats, out):
        console.print(f"wrote {path}", highlight=False)
    raise typer.Exit(1 if strict and result.under_review else 0)


def register(app: typer.Typer) -> None:
    app.command()(audit)
