"""The course's Slurm scripts on a real Slurm: Debian's slurm-wlm and munge, one node on this machine, the daemons
started here (as root) and stopped after (tests/slurm_cluster.py). Everything goes through the course's own
`slurm/submit.sh`, as an instructor would type it; the stand-in-sbatch test in test_course.py stays the quick path.

`make test` installs slurm-wlm and munge with apt-get where it runs as root; in CI (CI=true) a machine that cannot
run this test fails it, elsewhere it is skipped with the reason.
"""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli_captured
from tests.scoring_helpers import FIXTURES
from tests.slurm_cluster import NODE_CPUS, PARTITION_MINUTES, Cluster, unavailable

WHY = unavailable()
if WHY and os.environ.get("CI"):
    pytest.fail(f"the real-Slurm test must run in CI: {WHY}; make test installs slurm-wlm and munge as root", pytrace=False)
pytestmark = [pytest.mark.jail,  # its jobs run `fercomp` under Slurm, which starts jails
              pytest.mark.skipif(WHY is not None, reason=f"no real Slurm here: {WHY}; `make test` installs it as root")]

TEAMS = {"team_happy": (3, 2), "team_sad": (4, 1)}
COMPARED = ["team", "status", "rank", "accuracy", "gflops", "efficiency", "accuracy_mark", "efficiency_mark"]


def fercomp_cli(*args) -> tuple[int, str]:
    code, out, err = run_cli_captured(*args)
    return code, out + err


def board_rows(path: Path) -> dict[str, dict]:
    return {r["team"]: {k: r[k] for k in COMPARED} for r in csv.DictReader(io.StringIO(path.read_text()))}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def course(tmp_path_factory, small_csv):
    """fercomp init --slurm, two tiny hand-ins and a constant baseline, requests this node can meet, and the course
    environment (.venv/)."""
    root = tmp_path_factory.mktemp("slurm-course") / "course"
    code, out = fercomp_cli("init", root, "--shards", "2", "--reveal", "2099-01-01", "--slurm")
    assert code == 0, out
    text = (FIXTURES / "constant_model.py").read_text()
    for name, (klass, width) in TEAMS.items():
        (root / "submissions" / f"{name}.py").write_text(
            text.replace("CLASS_INDEX = 0", f"CLASS_INDEX = {klass}").replace("WIDTH = 1", f"WIDTH = {width}"))
    (root / "baselines" / "baseline_cnn.py").write_text(text)
    toml = (root / "fercomp.toml").read_text().replace('sandbox = "required"', 'sandbox = "auto"')
    toml = toml.replace("cpus = 4 ", "cpus = 1 ").replace("mem_gb = 16 ", "mem_gb = 1 ").replace("time_minutes = 120", "time_minutes = 10")
    (root / "fercomp.toml").write_text(toml + "\n[latency]\nmin_queries = 3\nmin_seconds = 0.0\nwarmup_queries = 1\n")
    assert fercomp_cli("init", root, "--slurm")[0] == 0  # regenerate slurm/ from the edited [slurm]
    (root / "data").mkdir()
    shutil.copy(small_csv, root / "data" / "fer2013.csv")
    course_environment(root / ".venv")
    return root


def course_environment(venv: Path) -> None:
    """The .venv/ slurm/setup.sh would pip-install, made offline: its bin/ holds `activate` and links to this test's
    fercomp and python. Renamed away, it is gone for the jobs too (their PATH names <course>/.venv/bin)."""
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text(f'export VIRTUAL_ENV="{venv}"\nexport PATH="$VIRTUAL_ENV/bin:$PATH"\n')
    for name in ("fercomp", "python"):
        (venv / "bin" / name).symlink_to(Path(sys.prefix) / "bin" / name)


def submit(cluster: Cluster, root: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """slurm/submit.sh ARGS with the test's environment minus its venv (the scripts activate .venv/ themselves), and
    minus any other folder with a `fercomp` in it (a developer's activated venv of another checkout)."""
    bin_dir = str(Path(sys.prefix) / "bin")
    path = os.pathsep.join(p for p in cluster.env["PATH"].split(os.pathsep)
                           if p != bin_dir and not (Path(p) / "fercomp").exists())
    full = {**os.environ, "SLURM_CONF": cluster.env["SLURM_CONF"], "PATH": path, **env}
    full.pop("VIRTUAL_ENV", None)
    done = subprocess.run(["bash", "slurm/submit.sh", *args], cwd=root, env=full, capture_output=True, text=True, timeout=300)
    ids = re.findall(r"scoring array (\d+) and board job (\d+)", done.stdout)
    return done, list(ids[0]) if ids else []


def logs(root: Path, job: str) -> str:
    return "\n".join(p.read_text() for p in sorted((root / "slurm" / "logs").glob(f"*-{job}*.out")))


def test_public_phase_equals_a_local_board(cluster, course):
    done, ids = submit(cluster, course, "public")
    assert done.returncode == 0 and ids, done.stdout + done.stderr
    assert "ok: baseline baselines/baseline_cnn.py: passes fercomp check" in done.stdout
    cluster.wait(*ids)
    array, board = ids
    assert cluster.states(array) == ["COMPLETED", "COMPLETED"], logs(course, array)
    assert cluster.states(board) == ["COMPLETED"], logs(course, board)
    slurm = board_rows(course / "reports" / "slurm" / "public" / "board" / "leaderboard-PublicTest.csv")
    cwd = os.getcwd()
    os.chdir(course)
    try:
        code, out = fercomp_cli("leaderboard", "--jobs", "2", "--format", "csv", "--out", "local")
    finally:
        os.chdir(cwd)
    assert code == 0, out
    assert slurm == board_rows(course / "local" / "leaderboard-PublicTest.csv") and set(slurm) == set(TEAMS)


def test_final_phase_waits_for_the_reveal_and_stays_private(cluster, course):
    refused, ids = submit(cluster, course, "final")
    assert refused.returncode == 2 and not ids and not cluster.queued()
    assert "revealed on 2099-01-01" in refused.stderr and "REVEAL_OK=1 slurm/submit.sh final" in refused.stderr
    clash, _ = submit(cluster, course, "public", PHASE="final")
    assert clash.returncode == 2 and "PHASE=final in the environment but 'public'" in clash.stderr

    stale = course / "reports" / "slurm" / "final" / "board" / "grades-PrivateTest.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("team,student_id,name,email\nteam_sad,1,An Old Run,old@example.org\n")
    # the constant baseline is below always answering Happy: the board job stops in one line, without a figure
    done, ids = submit(cluster, course, "final", REVEAL_OK="1")
    assert done.returncode == 0 and ids, done.stdout + done.stderr
    cluster.wait(*ids)
    stopped = logs(course, ids[1])
    assert cluster.states(ids[1]) == ["FAILED"] and "final board stopped: the baseline's accuracy on PrivateTest is not " \
        "above always answering Happy" in stopped and "allow_weak_baseline = true" in stopped, stopped
    toml = course / "fercomp.toml"
    toml.write_text(toml.read_text().replace("[marks]\n", "[marks]\nallow_weak_baseline = true\n", 1))
    done, ids = submit(cluster, course, "final", REVEAL_OK="1")
    assert done.returncode == 0 and ids, done.stdout + done.stderr
    cluster.wait(*ids)
    assert cluster.states(ids[1]) == ["COMPLETED"], logs(course, ids[0]) + logs(course, ids[1])
    final = course / "reports" / "slurm" / "final"
    log = logs(course, ids[0]) + logs(course, ids[1])  # the jobs' logs: team names and counts, never a figure
    assert "final phase: " in log and "Final phase (PrivateTest): 2 scored" in log and not re.search(r"\d\.\d+ ?%", log), log
    for path in (final / "records").glob("*.json"):
        record = json.loads(path.read_text())
        assert f"{100 * record['accuracy']:.2f}" not in log and repr(record["accuracy"]) not in log
    board = board_rows(final / "board" / "leaderboard-PrivateTest.csv")
    assert set(board) == set(TEAMS) and {r["status"] for r in board.values()} == {"scored"}
    assert not stale.exists()  # the board folder is replaced whole: no grades of an earlier run beside it
    private = [final, *final.rglob("*"), *(course / "slurm" / "logs").glob(f"*-{ids[0]}_*.out"),
               course / "slurm" / "logs" / f"board-{ids[1]}.out"]
    assert len(private) > 8 and [str(p) for p in private if p.stat().st_mode & 0o077] == []

    toml = course / "fercomp.toml"
    text = toml.read_text()
    toml.write_text(text.replace('reveal = "2099-01-01"', 'reveal = "2001-01-01"'))
    try:  # after the reveal: no override needed, and the fresh records are kept rather than scored again
        before = {p.name: p.stat().st_mtime_ns for p in (final / "records").glob("*.json")}
        after_reveal, ids = submit(cluster, course, "final")
        assert after_reveal.returncode == 0 and ids, after_reveal.stdout + after_reveal.stderr
        cluster.wait(*ids)
        assert cluster.states(ids[1]) == ["COMPLETED"], logs(course, ids[0]) + logs(course, ids[1])
        assert logs(course, ids[0]).count("kept its fresh record") == 3
        assert {p.name: p.stat().st_mtime_ns for p in (final / "records").glob("*.json")} == before
        assert board_rows(final / "board" / "leaderboard-PrivateTest.csv") == board
    finally:
        toml.write_text(text)


def test_a_missing_environment_fails_loudly_and_cancels_the_merge(cluster, course):
    away = course / ".venv-away"
    (course / ".venv").rename(away)
    try:
        refused, ids = submit(cluster, course, "public")
        assert refused.returncode == 2 and not ids and "run slurm/setup.sh first" in refused.stderr
    finally:
        away.rename(course / ".venv")
    # the environment is there on submission but not where the job runs: the node is drained so the jobs wait,
    # the environment goes away, and the node comes back
    node = ("NodeName=" + cluster.host,)
    assert cluster.run("scontrol", "update", *node, "State=DRAIN", "Reason=fercomp-test").returncode == 0
    try:
        done, ids = submit(cluster, course, "public")
        (course / ".venv").rename(away)
    finally:
        assert cluster.run("scontrol", "update", *node, "State=RESUME").returncode == 0
    try:
        assert done.returncode == 0 and ids, done.stdout + done.stderr
        cluster.wait(*ids, timeout=60)
    finally:
        away.rename(course / ".venv")
    array, board = ids
    assert cluster.states(array) == ["FAILED", "FAILED"]
    assert cluster.job(array)["ExitCode"] == "127:0"
    assert "no fercomp on" in logs(course, array) and "run slurm/setup.sh there first" in logs(course, array)
    assert cluster.states(board) == ["CANCELLED"]  # --kill-on-invalid-dep: not PENDING (DependencyNeverSatisfied) for ever


def test_a_baseline_without_weights_is_refused_before_submitting(cluster, course):
    baseline = course / "baselines" / "baseline_cnn.py"
    text = baseline.read_text()
    baseline.write_text(text.replace(".requires_grad_(False)", ""))  # a parameter to train, and no weights file
    try:
        refused, ids = submit(cluster, course, "public")
    finally:
        baseline.write_text(text)
    assert refused.returncode == 2 and not ids and not cluster.queued()
    line = refused.stderr.strip()
    assert "\n" not in line and "the baseline baselines/baseline_cnn.py fails fercomp check (weights file: none found" in line


def test_a_request_the_partition_cannot_meet_is_refused(cluster, course):
    toml = course / "fercomp.toml"
    text = toml.read_text()
    try:
        for edit, expected in ((("cpus = 1 ", f"cpus = {NODE_CPUS + 2} "),
                                f"asks --cpus-per-task={NODE_CPUS + 2}, but partition debug's largest node has {NODE_CPUS} CPUs"),
                               (("time_minutes = 10", f"time_minutes = {PARTITION_MINUTES + 1}"),
                                f"but partition debug's limit is {PARTITION_MINUTES} min")):
            toml.write_text(text.replace(*edit))
            assert fercomp_cli("init", course, "--slurm")[0] == 0
            refused, ids = submit(cluster, course, "public")
            assert refused.returncode == 2 and not ids and not cluster.queued()
            assert expected in refused.stderr and refused.stderr.count("\n") == 1, refused.stderr
    finally:
        toml.write_text(text)
        assert fercomp_cli("init", course, "--slurm")[0] == 0
