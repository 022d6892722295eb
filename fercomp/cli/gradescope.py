"""`fercomp gradescope build` and `fercomp gradescope run`: thin shells over fercomp.gradescope."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="A Gradescope autograder for the competition: build its zip; what its run_autograder runs.",
                  no_args_is_help=True)


@app.command()
def build(
    course: Path = typer.Option(Path("."), help="The course folder (fercomp.toml, gradescope/ from fercomp init --gradescope)."),
    out: Path = typer.Option(None, help="Where to write the zip (default gradescope/autograder.zip in the course)."),
) -> None:
    """Write the autograder zip: setup.sh and run_autograder at its root, the public split, the baseline's record.

    Exit codes: 0 written, 2 a missing script, data, baseline record or config error.
    """
    from fercomp.gradescope.bundle import build as build_zip
    from fercomp.render.terminal import console

    bundle = build_zip(course, out)
    splits = ", ".join(f"{name} ({n} images)" for name, n in bundle.splits.items())
    console.print(f"wrote {bundle.path}: {', '.join(bundle.members)}; data: {splits}", highlight=False)


@app.command()
def run(
    root: Path = typer.Option(None, help="Gradescope's /autograder (default $FERCOMP_AUTOGRADER_ROOT, else /autograder)."),
) -> None:
    """Grade /autograder/submission and write /autograder/results/results.json (what run_autograder calls).

    Exit code 0 whenever results.json was written, whatever the hand-in did.
    """
    from fercomp.gradescope.autograder import layout
    from fercomp.gradescope.autograder import run as run_autograder

    results = run_autograder(root)
    passed = sum(t.get("status") == "passed" for t in results.get("tests", []))
    typer.echo(f"results.json: score {results['score']}, {passed} of {len(results.get('tests', []))} tests passed "
               f"→ {layout(root).results_file}")
    typer.echo(results.get("output", ""))
