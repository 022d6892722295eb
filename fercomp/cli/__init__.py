"""The `fercomp` command line: a thin shell over the library. Heavy imports live inside commands."""

from __future__ import annotations

import sys

import typer

from fercomp.errors import FercompError

app = typer.Typer(
    name="fercomp",
    help="Score, rank and study FER-2013 facial-expression competition submissions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from fercomp.cli import ablate, audit, compare, data, demo, gradescope, init, leaderboard, predict, report, scoring, train

    app.add_typer(data.app, name="data")
    app.add_typer(gradescope.app, name="gradescope")
    scoring.register(app)
    leaderboard.register(app)
    train.register(app)
    ablate.register(app)
    demo.register(app)
    report.register(app)
    init.register(app)
    predict.register(app)
    compare.register(app)
    audit.register(app)



@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", is_eager=True, help="Print fercomp's version and exit.")) -> None:
    """Score, rank and study FER-2013 facial-expression competition submissions.

    Exit codes: 0 success; 1 a submission failed (its record or check says why); 2 a usage, config, data
    or record error (one line on stderr); 130 interrupted.
    """
    if version:
        from fercomp import __version__

        typer.echo(f"fercomp {__version__}")
        raise typer.Exit(0)


def fail(message: str, code: int) -> None:
    """Print one error line on stderr and exit with `code`."""
    print(f"fercomp: error: {message}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and turns every user-facing failure into one line and an exit code."""
    try:
        app(args=argv, prog_name="fercomp")
    except FercompError as exc:
        fail(exc.message, exc.exit_code)
    except OSError as exc:  # a folder that is a file, a read-only place, a full disk: the user's to fix
        where = f"{exc.filename}: " if exc.filename else ""
        fail(f"{where}{exc.strerror or exc}", 2)


_register()
