"""The `fercomp` command line: a thin shell over the library. Heavy imports live inside commands."""

from __future__ import annotations

import sys

import typer

from fercomp.errors import FercompError

def _no_type_for_a_flag(display_type_rich):
    """typer 0.29 prints a flag's type in every command's help (`--help <bool>`, `--trust-pickle/--no-trust-pickle
    <bool>`), as if it took a value: a flag shows none."""
    def patched(self, ctx):
        return "" if self.is_flag else display_type_rich(self, ctx)
    return patched


typer.core.TyperOption.display_type_rich = _no_type_for_a_flag(typer.core.TyperOption.display_type_rich)

app = typer.Typer(
    name="fercomp",
    help="Score, rank and study FER-2013 facial-expression competition submissions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from fercomp.cli import (ablate, audit, cache, collect, compare, data, demo, gradescope, init, leaderboard, predict, report,
                             scoring, supplement, train)

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
    supplement.register(app)
    cache.register(app)
    collect.register(app)


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
        # Not standalone: typer's own handler would draw a usage error as a multi-line box.
        code = app(args=argv, prog_name="fercomp", standalone_mode=False)
    except typer.TyperException as exc:  # click's errors: a mistyped option or command, a missing or bad value
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help is already printed (typer tells it by name too)
            sys.exit(2)
        ctx = getattr(exc, "ctx", None)
        fail(f"{exc.format_message().rstrip('.')}; see '{ctx.command_path if ctx else 'fercomp'} --help'", exc.exit_code)
    except typer.Abort:  # end of input at a prompt
        fail("aborted", 1)
    except FercompError as exc:
        fail(exc.message, exc.exit_code)
    except OSError as exc:  # a folder that is a file, a read-only place, a full disk: the user's to fix
        where = f"{exc.filename}: " if exc.filename else ""
        fail(f"{where}{exc.strerror or exc}", 2)
    else:
        if isinstance(code, int) and code:  # typer.Exit(N) comes back as N when not standalone
            sys.exit(code)


_register()
