"""Shared fixtures: small synthetic FER sources, an isolated cache, a CLI runner; and the `jail` marker's guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fercomp.cli import main
from fercomp.data.synth import SynthSpec, generate, write_csv, write_folder
from fercomp.submission import runner

SMALL = SynthSpec(n_train=600, n_public=150, n_private=150, seed=7)


#: The test files that take a worker a minute or more, longest first (`--junitxml` times on 2 cores). Under
#: `--dist loadfile --no-loadscope-reorder` (the Makefile) each xdist worker takes the next whole file in this order,
#: so the long files start first and the short ones fill in at the end. xdist's own order (most tests first) left the
#: one-test end-to-end files for last, where one worker ran them alone while the other had nothing left.
LONGEST_FIRST = ("tests/hostile/test_hostile.py", "tests/test_course.py", "tests/test_readme.py", "tests/test_demo.py",
                 "tests/test_families.py", "tests/hostile/test_audit.py", "tests/test_slurm_cluster.py",
                 "tests/test_student_roundtrip.py", "tests/test_supplement_final_phase.py", "tests/cli/test_score_cli.py",
                 "tests/test_leaderboard.py", "tests/test_cohort.py", "tests/test_mark_routes.py", "tests/test_report.py",
                 "tests/test_ablation.py", "tests/hostile/test_grader_hosts.py", "tests/test_gradescope.py")
ROOT = Path(__file__).parents[1]


def pytest_collection_modifyitems(config, items) -> None:
    missing = [path for path in LONGEST_FIRST if not (ROOT / path).is_file()]
    if missing:  # a renamed file would silently lose its place
        raise pytest.UsageError(f"tests/conftest.py LONGEST_FIRST names {', '.join(missing)}, which does not exist")
    rank = {path: place for place, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(Path(item.path).relative_to(ROOT).as_posix(), len(rank)))  # stable: the rest keep their order


#: whether the test being set up, run or torn down is marked `jail` (module fixtures are set up with their first test)
_MAY_START_JAILS = [True]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    _MAY_START_JAILS[0] = item.get_closest_marker("jail") is not None


def _refuse_unmarked(start):
    def guarded(*args, **kwargs):
        if not _MAY_START_JAILS[0]:
            raise AssertionError("this test starts a hand-in's process (a jail, ~4-5 CPU-seconds): mark its module "
                                 "`pytestmark = pytest.mark.jail`, so that `make check` leaves it out")
        return start(*args, **kwargs)
    return guarded


@pytest.fixture(autouse=True, scope="session")
def _jails_only_where_marked():
    """`make check` runs `-m "not jail"`: a test that starts a worker or measurer (jailed or not) and is not marked
    would make the fast tier slow without anyone noticing, so it fails here instead, in either tier. Jails that a
    test starts through a subprocess (a `fercomp` script, Slurm, Gradescope) or with jail.command directly are not
    seen here: those modules are marked by hand."""
    start = runner.JailedProcess.start
    runner.JailedProcess.start = _refuse_unmarked(start)
    yield
    runner.JailedProcess.start = start


@pytest.fixture(autouse=True, scope="session")
def _one_core_each():
    """Under pytest-xdist each worker gets its share of the cores for the torch work the tests do in-process
    (training, exports, graph walks): two workers each running torch's default of one thread per core spin on each
    other's cores, and a 10-second training test took 280 s that way on 2 cores. Jails set their own threads."""
    import os

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    yield


#: hostile case → (outcome, reason, contained), as tests/hostile/test_hostile.py recorded them (`hostile_outcome`)
HOSTILE_OUTCOMES: dict[str, tuple[str, str, str]] = {}


def pytest_runtest_logreport(report) -> None:
    """Collect the hostile cases' outcomes from the test reports: under pytest-xdist the tests run in worker
    processes and only their reports reach this one (the controller), which prints the summary."""
    for key, value in report.user_properties:
        if key == "hostile_outcome" and report.when == "call":
            case, *row = value
            HOSTILE_OUTCOMES[case] = tuple(row)


def pytest_terminal_summary(terminalreporter) -> None:
    if not HOSTILE_OUTCOMES:
        return
    from tabulate import tabulate

    rows = [(case, *HOSTILE_OUTCOMES[case]) for case in sorted(HOSTILE_OUTCOMES)]
    terminalreporter.write_line("")
    terminalreporter.write_line("hostile submissions: every case contained")
    terminalreporter.write_line(tabulate(rows, headers=["case", "outcome", "reason", "contained"], tablefmt="github"))


@pytest.fixture(scope="session")
def _exported_programs(tmp_path_factory):
    return tmp_path_factory.mktemp("exported")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch, _exported_programs):
    """Every test gets its own data cache, so no test sees another's entries. Exported programs are keyed by
    the hand-in's content, so one folder serves the session (a fixture scored again is not exported again)."""
    monkeypatch.setenv("FERCOMP_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_DIR", str(_exported_programs))


@pytest.fixture(scope="session")
def small_arrays():
    return generate(SMALL)


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory, small_arrays):
    path = tmp_path_factory.mktemp("csv") / "fer2013.csv"
    write_csv(path, *small_arrays)
    return path


@pytest.fixture(scope="session")
def small_folder(tmp_path_factory, small_arrays):
    root = tmp_path_factory.mktemp("folder") / "fer"
    write_folder(root, *small_arrays)
    return root


def run_cli_captured(*args) -> tuple[int, str, str]:
    """`fercomp ARGS` in-process, its output captured without capsys (which module fixtures cannot use):
    (exit code, stdout, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
    return code, out.getvalue(), err.getvalue()


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run `fercomp ARGS` in-process: (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def cli(capsys):
    return lambda *args: run_cli(capsys, *[str(a) for a in args])


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def csv_text(rows: list[tuple]) -> str:
    """A FER CSV from (emotion, pixels, usage) rows; pixels may be a list of ints or a raw string."""
    out = ["emotion,pixels,Usage"]
    for emotion, pixels, usage in rows:
        text = pixels if isinstance(pixels, str) else " ".join(map(str, pixels))
        out.append(f"{emotion},{text},{usage}")
    return "\n".join(out) + "\n"


def good_pixels(seed: int = 0) -> list[int]:
    return np.random.default_rng(seed).integers(0, 256, 2304).tolist()


def cells(row: str) -> list[str]:
    """The stripped cells of one Markdown table row (tabulate pads them to align the columns)."""
    return [c.strip() for c in row.strip().strip("|").split("|")]
