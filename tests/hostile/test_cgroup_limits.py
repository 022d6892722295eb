"""The jail's kernel limits: each jail in a memory and pids cgroup of its own, where the machine allows it.

The runner's watchdog polls the jail's resident memory; an allocation faster than a poll could take the
machine's memory before it looks. The cgroup makes the kernel stop it at the limit. Without the cgroup the
allocation below succeeds (the raw jail command has no watchdog), so this is the defence, not the poller.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fercomp.submission import jail

pytestmark = pytest.mark.jail  # jails started with jail.command directly

needs_cgroups = pytest.mark.skipif(jail.cgroups() is None and not os.environ.get("CI"),
                                   reason="no writable memory/pids cgroups here (as root on this kind of machine there are)")


def run_jailed(code: str, memory_mb: int) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="fercomp-cgroup-test-") as home:
        ids = jail.new_host_ids()
        jail.prepare_home(Path(home), ids)
        spec = jail.JailSpec(argv=(sys.executable, "-S", "-c", code), home=home, time_limit_s=60, memory_mb=memory_mb,
                             host_ids=ids)
        return subprocess.run(jail.command(spec), capture_output=True, text=True, timeout=120)


@needs_cgroups
def test_ci_machines_give_each_jail_its_own_cgroup():
    assert jail.cgroups() in ("v1", "v2"), "as root, fercomp puts every jail in a memory and pids cgroup"


@needs_cgroups
def test_each_jail_runs_in_a_cgroup_of_its_own():
    done = run_jailed("print(open('/proc/self/cgroup').read())", 256)
    assert done.returncode == 0, done.stderr[-500:]
    assert "NSJAIL" in done.stdout


@needs_cgroups
def test_an_allocation_past_the_hard_limit_is_stopped_by_the_kernel():
    done = run_jailed("b = bytearray(700 << 20); print('allocated', len(b))", 256)
    assert "allocated" not in done.stdout and done.returncode != 0
    assert run_jailed("b = bytearray(100 << 20); print('allocated', len(b))", 256).stdout.startswith("allocated")
