"""The measurer template: its policy is POLICY less exactly what a template needs, each fork's stacked filter is
written from the same tables, and a record is the same whether its measurer was forked or fresh."""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict

import pytest

from fercomp.scoring import score_submission
from fercomp.submission import forks, jail, seccomp_filter
from tests.scoring_helpers import FIXTURES, fast_config


def test_the_template_policy_is_the_policy_less_a_new_process_and_pinning():
    assert jail.FORK_RULE[4] in jail.POLICY and jail.FORK_RULE[4] not in jail.TEMPLATE_POLICY
    assert "sched_setaffinity" in jail.POLICY and "sched_setaffinity" not in jail.TEMPLATE_POLICY
    rest = jail.POLICY.replace(jail.FORK_RULE[4] + ",\n    ", "").replace("sched_setaffinity, ", "")
    assert rest == jail.TEMPLATE_POLICY


def test_the_stacked_filter_covers_every_call_the_policy_names():
    """seccomp_filter builds its rules from jail's tables; the kafel text must name nothing else."""
    named = set(seccomp_filter._every_name())
    body = jail.POLICY.split("KILL_PROCESS {", 1)[1].split("}\n}", 1)[0]
    words = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", body))
    calls = words - {"domain", "type", "protocol", "flags", "option", "fd", "mode"}
    assert calls == named
    if jail.own_ids():  # libseccomp knows every one of them here (the template's precondition)
        assert seccomp_filter.available() is None


def test_the_template_refuses_to_fork_with_a_second_thread():
    """A fork copies only the thread that forks: a second one (an OpenMP pool, tqdm's monitor) would leave the locks
    it held held in every fork, so the template stops before it serves (and hand-ins are measured fresh)."""
    code = ("import threading\nfrom fercomp.submission import template\ntemplate._one_thread()\n"
            "stop = threading.Event()\nthreading.Thread(target=stop.wait).start()\n"
            "try:\n    template._one_thread()\nexcept RuntimeError as exc:\n    print(exc)\nstop.set()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "the measurer template runs 2 threads before it forks; it forks only with one"


@pytest.mark.skipif(jail.cgroups() is None or os.geteuid() != 0, reason="needs cgroups and root")
def test_a_fork_takes_over_the_cgroups_a_killed_run_left_under_its_pid():
    """Host pids are reused: a run killed before it removed a fork's cgroups left folders that a later fork with
    the same pid must take over (an error there measured that hand-in in a fresh jail instead)."""
    dead = subprocess.Popen(["sleep", "60"])
    left = jail.fork_cgroups(dead.pid, 64)
    dead.kill()
    dead.wait()  # its folders stay, empty, as a killed run leaves them
    child = subprocess.Popen(["sleep", "60"])
    renamed = [folder.replace(f"fercomp-fork-{dead.pid}", f"fercomp-fork-{child.pid}") for folder in left]
    for old, new in zip(left, renamed):  # under the pid the next process got, as a reused pid finds them
        os.rename(old, new)
    left = renamed
    try:
        assert jail.fork_cgroups(child.pid, 128) == left
        for folder in left:
            with open(os.path.join(folder, "cgroup.procs")) as fh:
                assert str(child.pid) in fh.read().split()
    finally:
        child.kill()
        child.wait()
        jail.remove_cgroups(left)
    assert not any(os.path.exists(folder) for folder in left)


@pytest.mark.skipif(forks.unusable(True, False) is not None and not os.environ.get("CI"),
                    reason=f"no measurer template here: {forks.unusable(True, False)}")  # under CI: fails instead
@pytest.mark.jail
def test_a_record_is_the_same_forked_or_fresh(tmp_path, small_csv, monkeypatch):
    """Everything but the times, the start mode and the when is the same bytes; under umask 077 too (the final
    phase's grading step), which once closed the template jail's folders to every fork. The hand-in draws random
    numbers in forward: its answers show that the template's warm-up left the generator as a fresh process has it."""
    monkeypatch.setattr(forks, "_TEMPLATES", {})  # a template of this test's own, started under its umask
    old_umask = os.umask(0o077)
    import torch

    shutil.copy(FIXTURES / "noisy_cnn.py", tmp_path / "team.py")
    namespace: dict = {}
    exec(compile((tmp_path / "team.py").read_text(), "team.py", "exec"), namespace)
    torch.manual_seed(0)
    torch.save(namespace["build_model"]().state_dict(), tmp_path / "team.pt")
    config = fast_config(small_csv, tmp_path / "results", sandbox="required")
    try:
        score_submission(tmp_path / "team.py", config)  # its export cached: both runs below load the same program
        forked = score_submission(tmp_path / "team.py", config)
    finally:
        os.umask(old_umask)
        forks.close_all()
    monkeypatch.setattr(forks, "ENABLED", False)
    fresh = score_submission(tmp_path / "team.py", config)
    assert (forked.environment["start_mode"], fresh.environment["start_mode"]) == ("forked", "jail")
    assert forked.status == "scored", forked.failure

    def comparable(record) -> dict:
        found = asdict(record)
        for timed in ("timestamp", "timings", "peak_rss_mb", "roofline"):
            found.pop(timed)
        found["environment"].pop("start_mode")
        found["latency"] = {k: v for k, v in found["latency"].items()
                            if k in ("config", "threads", "device", "check", "outputs_shape")}  # how many queries: timed
        return found

    assert comparable(forked) == comparable(fresh)
