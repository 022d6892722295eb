"""The README's two quick starts run exactly as printed, one after the other in one empty folder, as a newcomer
would paste them: the student's first hand-in is trained, checked and scored, and the instructor's course builds
its first board and a grade file from it."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.jail  # its quick starts run `fercomp` in subprocesses, which start jails

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"


def quick_start(heading: str) -> str:
    """The first shell block under `heading`, verbatim."""
    section = README.read_text(encoding="utf-8").split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def run(script: str, cwd: Path, bin_dir: Path) -> subprocess.CompletedProcess:
    """`script` in bash with -e, where `fercomp` is this checkout's command line."""
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1500)


def test_readme_quick_starts_run_as_printed(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "fercomp"  # what `pip install` puts on PATH, pointed at this checkout
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m fercomp "$@"\n')
    shim.chmod(0o755)
    home = tmp_path / "work"
    home.mkdir()

    student = run(quick_start("Student quick start"), home, bin_dir)
    assert student.returncode == 0, student.stdout[-3000:] + student.stderr[-3000:]
    assert (home / "submissions" / "team_a.pt").is_file()  # train saved the weights where score looks
    assert "ready to submit" in student.stdout  # check passed every rule
    record = json.loads((home / "reports" / "results" / "team_a.PublicTest.json").read_text())
    assert record["status"] == "scored" and record["data"]["split"] == "PublicTest" and record["data"]["size"] == 200

    instructor = run(quick_start("Instructor quick start"), home, bin_dir)
    assert instructor.returncode == 0, instructor.stdout[-3000:] + instructor.stderr[-3000:]
    boards = home / "my-course" / "reports" / "leaderboard"
    assert (boards / "leaderboard-PublicTest.html").is_file() and (boards / "leaderboard-PublicTest.csv").is_file()
    teams = {row["team"]: row for row in csv.DictReader((boards / "leaderboard-PublicTest.csv").open())}
    assert teams["team_a"]["status"] == "scored"
    final = home / "my-course" / "reports" / "final"
    grades = list(csv.DictReader((final / "grades-PrivateTest.csv").open()))
    assert [(g["student_id"], g["team"], g["status"]) for g in grades] == [("s001", "team_a", "scored")]
    assert (final / "audit-PrivateTest.json").is_file()
