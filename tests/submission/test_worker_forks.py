"""The worker template: its policy is POLICY less exactly what a fork needs to make its own jail, and a record is
the same whether its worker was forked or fresh."""

import os
import shutil
from dataclasses import asdict

import pytest

from fercomp.scoring import score_submission
from fercomp.submission import jail, worker_forks
from tests.scoring_helpers import FIXTURES, fast_config

needs_template = pytest.mark.skipif(worker_forks.unusable(True, False) is not None and not os.environ.get("CI"),
                                    reason=f"no worker template here: {worker_forks.unusable(True, False)}")


def test_the_worker_template_policy_is_the_policy_less_what_a_fork_needs_for_its_own_jail():
    rest = jail.POLICY.replace(jail.FORK_RULE[4] + ",\n    ", "").replace(jail.PDEATHSIG_RULE[4] + ",\n    ", "")
    rest = rest.replace("sched_setaffinity, ", "")
    for name in jail.NESTING_SYSCALLS:
        assert f" {name}," in jail.POLICY and f" {name}," not in jail.WORKER_TEMPLATE_POLICY
        rest = rest.replace(f" {name},", "")
    assert rest == jail.WORKER_TEMPLATE_POLICY
    assert "setns" in jail.WORKER_TEMPLATE_POLICY and jail.KILL_RULES[2][4] in jail.WORKER_TEMPLATE_POLICY


def _comparable(record) -> dict:
    found = asdict(record)
    for timed in ("timestamp", "timings", "peak_rss_mb", "roofline"):
        found.pop(timed)
    for started in ("start_mode", "worker_start_mode", "worker_fresh_because"):
        found["environment"].pop(started, None)
    found["latency"] = {k: v for k, v in found["latency"].items()
                        if k in ("config", "threads", "device", "check", "outputs_shape")}
    found["export"] = {k: v for k, v in (found.get("export") or {}).items() if k != "cached"}
    return found


@needs_template
@pytest.mark.jail
def test_a_record_is_the_same_with_a_forked_or_a_fresh_worker(tmp_path, small_csv, monkeypatch):
    """Both export (no cache between them): the exported program is the same bytes, and so is the record."""
    import torch

    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "team.py")
    namespace: dict = {}
    exec(compile((tmp_path / "team.py").read_text(), "team.py", "exec"), namespace)
    torch.manual_seed(0)
    torch.save(namespace["build_model"]().state_dict(), tmp_path / "team.pt")
    config = fast_config(small_csv, tmp_path / "results", sandbox="required")
    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_DIR", str(tmp_path / "forked"))
    try:
        forked = score_submission(tmp_path / "team.py", config)
    finally:
        worker_forks.close_all()
    monkeypatch.setattr(worker_forks, "ENABLED", False)
    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_DIR", str(tmp_path / "fresh"))
    fresh = score_submission(tmp_path / "team.py", config)
    assert forked.status == "scored", (forked.failure, forked.environment)
    assert (forked.environment["worker_start_mode"], fresh.environment["worker_start_mode"]) == ("forked", "jail")
    assert fresh.environment["worker_fresh_because"] == "worker templates are turned off"
    assert _comparable(forked) == _comparable(fresh)


@needs_template
@pytest.mark.jail
def test_a_fork_that_cannot_make_its_jail_leaves_the_hand_in_to_a_fresh_one(tmp_path, small_csv, monkeypatch):
    """A kernel that refuses a step of a fork's jail (here: a bind mount of a home that is not there) ends the fork
    before the hand-in is read; the hand-in is scored by a fresh worker jail, this process starts fresh ones from
    then on, and the record says so and why."""
    monkeypatch.setattr(worker_forks, "_FAILED", [])
    monkeypatch.setattr(worker_forks, "_TEMPLATES", {})
    unmountable = worker_forks.ForkedWorker._request
    monkeypatch.setattr(worker_forks.ForkedWorker, "_request", lambda self: {**unmountable(self), "home": "/nonexistent"})
    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_DIR", str(tmp_path / "exported"))  # a worker must run
    shutil.copy(FIXTURES / "rule_model.py", tmp_path / "team.py")
    config = fast_config(small_csv, tmp_path / "results", sandbox="required")
    try:
        record = score_submission(tmp_path / "team.py", config)
    finally:
        worker_forks.close_all()
    assert record.status == "scored", record.failure
    assert record.environment["worker_start_mode"] == "jail"
    assert "could not make its own jail" in record.environment["worker_fresh_because"]
    assert worker_forks.unusable(True, False) == record.environment["worker_fresh_because"]


@pytest.mark.jail
@pytest.mark.skipif(os.geteuid() != 0, reason="cgroups are root's to make")
def test_a_forks_cgroup_takes_the_place_of_a_dead_forks_of_the_same_pid(tmp_path):
    """A fork's cgroup is named by its host pid: a folder a dead fork of the same pid left behind (empty) must not
    send the next hand-in to a fresh jail; one that holds a process is never taken over."""
    import subprocess
    import sys

    if jail.cgroups() is None:
        pytest.skip("no cgroups here")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        made = jail.fork_cgroups(sleeper.pid, 256)
        jail.remove_cgroups(made)  # still holds the sleeper: stays, as a dead fork's would with a process in it
        assert all(os.path.isdir(folder) for folder in made)
        sleeper.kill()
        sleeper.wait()
        again = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            for folder in made:  # a leftover of a dead fork's, empty, under the name a new fork may get
                assert not open(os.path.join(folder, "cgroup.procs")).read().split()
            renamed = [folder.replace(f"fercomp-fork-{sleeper.pid}", f"fercomp-fork-{again.pid}") for folder in made]
            for old, new in zip(made, renamed):
                os.rmdir(old)
                os.mkdir(new)
            taken = jail.fork_cgroups(again.pid, 256)
            assert taken == renamed
            assert all(str(again.pid) in open(os.path.join(folder, "cgroup.procs")).read().split() for folder in taken)
        finally:
            again.kill()
            again.wait()
            jail.remove_cgroups(renamed)
    finally:
        sleeper.kill()
        sleeper.wait()
