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
    from fercomp.cli import ablate, data, demo, init, leaderboard, report, scoring, train

    app.add_typer(data.app, name="data")
    scoring.register(app)
    leaderboard.register(app)
    train.register(app)
    ablate.register(app)
    demo.register(app)
    report.register(app)
    init.register(app)



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


_register()
