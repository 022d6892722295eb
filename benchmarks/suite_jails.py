"""What the test suite's time is made of: hand-in jails started, per test file (a pytest plugin, not a test).

    python -m pytest -p benchmarks.suite_jails tests/test_leaderboard.py

Every scoring, check, report or prediction starts its hand-in's jails (runner.HandinJails: a measurer, and a worker
unless the exported program is cached), and each jail imports torch afresh: 7.8 CPU-seconds a hand-in on the
project's 2-core machine (4.0 with the export cached), whatever the model (a rule model scored four times, CPU time
of the process tree). Their count does not move with the machine's load, as a wall time does, so it is
the figure to compare before and after a change to the tests. Jails started by a subprocess (`fercomp` scripts, the
Slurm and Gradescope runs) are not counted.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

STARTED: Counter[str] = Counter()
SECONDS: Counter[str] = Counter()
_current = ["(collection)"]
_lock = threading.Lock()  # `--jobs 2` enters jails from two threads


def pytest_configure(config) -> None:
    from fercomp.submission import runner

    enter, leave = runner.HandinJails.__enter__, runner.HandinJails.__exit__

    def counted_enter(self):
        self._suite_started = time.monotonic()
        with _lock:
            STARTED[_current[0]] += 1
        return enter(self)

    def counted_exit(self, *exc):
        try:
            return leave(self, *exc)
        finally:
            with _lock:
                SECONDS[_current[0]] += time.monotonic() - self._suite_started

    runner.HandinJails.__enter__, runner.HandinJails.__exit__ = counted_enter, counted_exit


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    _current[0] = item.nodeid.split("::")[0]  # module fixtures are set up here too, so they count for their file


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line("")
    terminalreporter.write_line("hand-ins whose jails were started in this process, per test file:")
    for name in sorted(STARTED, key=STARTED.get, reverse=True):
        terminalreporter.write_line(f"  {STARTED[name]:4d}  {SECONDS[name]:7.1f} s inside them  {name}")
    terminalreporter.write_line(f"  {sum(STARTED.values()):4d}  {sum(SECONDS.values()):7.1f} s  in all")
