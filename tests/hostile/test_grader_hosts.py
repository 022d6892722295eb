"""The jail on the hosts a course grades on, not only as root here.

- A GitHub-hosted runner grades as an unprivileged user (`runner`) once `ci/allow-userns.sh` has lifted
  Ubuntu 24.04's AppArmor knob: `sandbox = "required"` must hold there, hostile hand-ins contained.
- A machine without user namespaces: `required` refuses in one line before anything is written, `auto` falls
  back with the reason in the record and on the board, and `ci/allow-userns.sh` fails the job.

The AppArmor knob itself needs an Ubuntu 24.04 kernel (this one has no AppArmor); what the script does after
it, and both outcomes it must tell apart, run here for real: a user namespace whose `max_user_namespaces` is 0
is a machine where nsjail cannot create its namespaces.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fercomp import course
from fercomp.records import read_record
from fercomp.render.table import sandbox_cell
from tests.hostile.test_hostile import CASES
from tests.scoring_helpers import FIXTURES

pytestmark = pytest.mark.jail  # `fercomp score` in a subprocess, as each grader host

GRADER_UID = 4242  # an unprivileged grader with no account, like a hosted runner's `runner`
FERCOMP = [sys.executable, "-m", "fercomp"]
ALLOW_USERNS = Path(course.__file__).parent / "course_files" / "ci" / "allow-userns.sh"


@pytest.fixture(autouse=True)
def _as_root():
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root, which these tests need to become another user", pytrace=False)
        pytest.skip("needs root, to run as another user and to make a machine without user namespaces")


def _env(home: Path) -> dict[str, str]:
    return {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
            "FERCOMP_CACHE_DIR": str(home / "cache"), "FERCOMP_EXPORT_CACHE_DIR": str(home / "exported"),
            "PYTHONPATH": os.environ.get("PYTHONPATH", "")}


def _course_folder(tmp_path_factory, small_csv) -> Path:
    """A folder the unprivileged grader owns (tmp_path's parents are root's, mode 0700)."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="fercomp-grader-"))
    os.chmod(root, 0o755)
    shutil.copy(small_csv, root / "fer2013.csv")
    subs = root / "subs"
    subs.mkdir()
    shutil.copy(FIXTURES / "rule_model.py", subs / "a_honest.py")
    shutil.copy(CASES / "kill_runner.py", subs / "b_killer.py")
    shutil.copy(CASES / "ptrace_sibling.py", subs / "c_ptrace.py")
    return root


def test_an_unprivileged_grader_holds_required_with_the_hostile_contained(tmp_path_factory, small_csv):
    root = _course_folder(tmp_path_factory, small_csv)
    try:
        for folder, _, files in os.walk(root):
            os.chown(folder, GRADER_UID, GRADER_UID)
            for name in files:
                os.chown(os.path.join(folder, name), GRADER_UID, GRADER_UID)
        as_grader = ["setpriv", f"--reuid={GRADER_UID}", f"--regid={GRADER_UID}", "--clear-groups"]
        probe = subprocess.run([*as_grader, "bash", str(ALLOW_USERNS)], capture_output=True, text=True, cwd=root,
                               env=_env(root), timeout=120)
        assert probe.returncode == 0 and f"nsjail: available (uid {GRADER_UID}" in probe.stdout, probe.stdout + probe.stderr
        done = subprocess.run([*as_grader, *FERCOMP, "score", "subs", "--data", "fer2013.csv", "--out", "res",
                               "--sandbox", "required", "--latency-queries", "5", "--latency-seconds", "0.05", "--json"],
                              capture_output=True, text=True, cwd=root, env=_env(root), timeout=600)
        assert done.returncode in (0, 1), done.stderr[-2000:]
        records = {r["submission"]["name"]: r for r in json.loads(done.stdout)}
        assert sorted(records) == ["a_honest", "b_killer", "c_ptrace"]
        for record in records.values():
            assert record["sandbox"]["kind"] == "nsjail" and record["sandbox"]["uid"] == GRADER_UID, record["sandbox"]
        assert records["a_honest"]["status"] == "scored" and records["b_killer"]["status"] == "scored"
        assert records["c_ptrace"]["failure"]["reason"] == "sandbox_violation"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _without_user_namespaces(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """`command` in a user namespace that may create none below it: nsjail's clone fails as on a machine with
    user namespaces disabled."""
    script = f"echo 0 > /proc/sys/user/max_user_namespaces && {command}"
    return subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c", script], capture_output=True, text=True,
                          cwd=cwd, env=_env(cwd), timeout=600)


def test_without_user_namespaces_required_refuses_auto_falls_back_and_the_ci_step_fails(tmp_path, small_csv):
    shutil.copy(small_csv, tmp_path / "fer2013.csv")
    shutil.copy(FIXTURES / "rule_model.py", tmp_path / "team.py")
    fercomp = " ".join(FERCOMP)

    refused = _without_user_namespaces(f"{fercomp} score team.py --data fer2013.csv --out res --sandbox required", tmp_path)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr
    assert "sandbox = required, but nsjail cannot create its namespaces here" in lines[0]
    assert "max_user_namespaces" in lines[0] and "apparmor_restrict_unprivileged_userns=0" in lines[0]
    assert not (tmp_path / "res").exists(), "a refused run writes nothing"

    held_out = f"{fercomp} score team.py --data fer2013.csv --split PrivateTest --out res --sandbox auto"
    fallback = _without_user_namespaces(held_out, tmp_path)
    assert fallback.returncode == 0, fallback.stderr[-2000:]
    assert "isolation: none (no jail: nsjail cannot create its namespaces here" in " ".join(fallback.stdout.split())
    record = json.loads((tmp_path / "res" / "team.PrivateTest.json").read_text())
    assert record["status"] == "scored" and record["sandbox"]["kind"] == "none" and record["isolation"] == []
    assert "nsjail cannot create its namespaces" in record["sandbox"]["why_not"]
    assert sandbox_cell(read_record(tmp_path / "res" / "team.PrivateTest.json")) == "no jail", "the board's column"

    ci_step = _without_user_namespaces(f"bash {ALLOW_USERNS}", tmp_path)
    assert ci_step.returncode == 1 and "nsjail: unavailable: nsjail cannot create its namespaces" in ci_step.stdout, \
        ci_step.stdout + ci_step.stderr
