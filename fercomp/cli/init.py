"""`fercomp init DIR`: a course's competition repository (and `--slurm` scripts): a thin shell over fercomp.course."""

from __future__ import annotations

from pathlib import Path

import typer


def init(
    dest: Path = typer.Argument(..., help="The course repository's folder (created if missing)."),
    slurm: bool = typer.Option(False, help="Also write slurm/ (score array + dependent merge) from fercomp.toml \\[slurm]."),
    gradescope: bool = typer.Option(False, help="Also write gradescope/ (setup.sh, run_autograder) for fercomp gradescope build."),
    shards: int = typer.Option(4, min=1, help="Parallel scoring jobs in the CI matrix (and the \\[slurm] default)."),
    fercomp_spec: str = typer.Option(None, help="What CI installs (default: where this fercomp came from, e.g. a git URL and commit)."),
    reveal: str = typer.Option("", help="\\[phases] reveal date, e.g. 2026-12-15."),
    baseline_url: str = typer.Option(None, help="The baseline's weights as a release asset (https)."),
    baseline_sha256: str = typer.Option(None, help="sha256sum of those weights."),
    supplement: str = typer.Option("", help="[competition] private_supplement: the course's own faces, e.g. "
                                   "data/supplement.csv (fercomp supplement makes it from photos)."),
    force: bool = typer.Option(False, help="Rewrite every file of an existing course."),
) -> None:
    """Scaffold a course repository: fercomp.toml, submissions/README.md, .gitignore, the baseline, the
    GitHub Actions workflow and its ci/ scripts; with --slurm, slurm/ scripts for a cluster; with --gradescope,
    gradescope/ scripts for a Gradescope autograder.

    Exit codes: 0 written, 2 an existing course without --force/--slurm/--gradescope, or a bad option.
    """
    from fercomp.course import InitOptions, fercomp_origin, init_course, next_steps
    from fercomp.render.terminal import console

    spec, origin = (fercomp_spec, "--fercomp-spec") if fercomp_spec else fercomp_origin()
    options = InitOptions(shards=shards, reveal=reveal, baseline_url=baseline_url, baseline_sha256=baseline_sha256,
                          slurm=slurm, gradescope=gradescope, force=force, fercomp_spec=spec,
                          supplement=supplement)
    only_scripts = (slurm or gradescope) and not force and (dest / "fercomp.toml").is_file()  # an existing course
    for path in init_course(dest, options):
        console.print(f"wrote {path}", highlight=False)
    if only_scripts:
        return
    console.print(f"CI installs {spec} (ci/requirements.txt, submissions/README.md): {origin}", highlight=False, soft_wrap=True)
    console.print("next steps:", highlight=False)
    for number, step in enumerate(next_steps(dest, options), 1):
        console.print(f"  {number}. {step}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(init)
