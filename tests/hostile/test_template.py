"""A forked measurer that a crafted artifact took over: what it can still do to its siblings and the template.

Crafting an artifact that exploits torch.export's loader is not the point here; where such an exploit would land
is. forks.TEST_HOOK makes each fork run the given code right after it has confined itself (template._confine),
so these tests play a compromised fork and assert, from inside it, that it cannot start a process, trace or read
a sibling or the template, signal them, or write anywhere another fork could read, and that its crash, hang or
memory bomb costs only itself: the sibling's answers stay the same bytes and the template keeps forking (or
starts again when it is killed)."""

import json
import os
import signal

import numpy as np
import pytest
import torch

from fercomp.submission import forks, kernel_log
from fercomp.submission.runner import Limits, WorkerFailure

pytestmark = [pytest.mark.jail, pytest.mark.skipif(forks.unusable(True, False) is not None and not os.environ.get("CI"),
                                                  reason=f"no measurer template here: {forks.unusable(True, False)}")]

LIMITS = Limits(time_limit_s=60, memory_limit_mb=1500, sandbox="required", threads=1)
IMAGES = np.arange(4 * 48 * 48, dtype=np.uint8).reshape(4, 48, 48)

#: A compromised fork's probe: each attempt's outcome ("done" when it got through), printed to its log.
PROBE = """
import json, os, signal
found = {}
def attempt(name, action):
    try:
        action()
        found[name] = "done"
    except OSError as exc:
        found[name] = type(exc).__name__
def read(path):
    with open(path, "rb") as fh:
        fh.read(16)
def write(folder):
    with open(os.path.join(folder, "fercomp-planted"), "w") as fh:
        fh.write("planted")
"""


def _report(process) -> dict:
    line = next(line for line in reversed(process.log_tail().splitlines()) if line.startswith("HOOK "))
    return json.loads(line[5:])


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """A small exported program (what the worker would have written), and its outputs on IMAGES."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48 * 48, 7)).eval()
    torch.manual_seed(0)
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.export.export(model, (torch.zeros(2, 1, 48, 48),), dynamic_shapes=({0: batch},))
    path = tmp_path_factory.mktemp("template") / "model.pt2"
    torch.export.save(program, path)
    return path


def _measurer(template, artifact, hook: str | None = None, limits: Limits = LIMITS):
    forks.TEST_HOOK = hook
    try:
        process = forks.ForkedMeasurer(template, limits, {"device": "cpu"}, None).start()
    finally:
        forks.TEST_HOOK = None
    try:
        process.ready()
        fd = os.open(artifact, os.O_RDONLY)
        try:
            process.send_descriptor(fd)
        finally:
            os.close(fd)
        process.call("load", {"preprocess": {}}, max_payload=0)
    except BaseException:
        process.close()
        raise
    return process


def _predict(process) -> bytes:
    return process.call("predict", {"shape": list(IMAGES.shape)}, IMAGES.tobytes(), max_payload=4 * 7 * 4)[1]


@pytest.fixture(scope="module")
def victim(artifact):
    """A sibling fork holding its program, and its answer before any attack."""
    template = forks.template_for(LIMITS, True, False)
    process = _measurer(template, artifact)
    yield template, process, _predict(process)
    process.close()


def _attack(victim, artifact, code: str, limits: Limits = LIMITS):
    template, sibling, _ = victim
    hook = PROBE + f"VICTIM = {sibling.proc.inner_pid}\n" + code + '\nprint("HOOK " + json.dumps(found), flush=True)\n'
    return _measurer(template, artifact, hook, limits)


def _sibling_unharmed(victim) -> None:
    template, sibling, before = victim
    assert _predict(sibling) == before, "the sibling's answer changed"
    assert template.alive


def test_a_compromised_fork_cannot_read_trace_or_signal_a_sibling_or_the_template(victim, artifact):
    attacker = _attack(victim, artifact, """
for pid in (VICTIM, 1):
    for name in ("mem", "environ", "maps", "fd/3"):
        attempt(f"read /proc/{pid}/{name}", lambda: read(f"/proc/{pid}/{name}"))
    attempt(f"list /proc/{pid}/fd", lambda: os.listdir(f"/proc/{pid}/fd"))
    attempt(f"signal {pid}", lambda: os.kill(pid, signal.SIGKILL))
found["uid"] = os.getuid()
found["capabilities"] = [line.split()[1] for line in open("/proc/self/status") if line.startswith("CapEff")][0]
""")
    try:
        found = _report(attacker)
        uid, capabilities = found.pop("uid"), int(found.pop("capabilities"), 16)
        assert found and all(outcome == "PermissionError" for outcome in found.values()), found
        assert uid not in (0, 65534) and capabilities == 0
        _sibling_unharmed(victim)
    finally:
        attacker.close()


def test_a_compromised_fork_has_nowhere_to_write(victim, artifact):
    attacker = _attack(victim, artifact, """
for folder in ("/", "/tmp", "/dev/shm", "/home/fercomp", "/proc/self/cwd", os.path.expanduser("~"), "/dev"):
    attempt(f"write {folder}", lambda: write(folder))
""")
    try:
        found = _report(attacker)
        assert not [name for name, outcome in found.items() if outcome == "done"], found
        _sibling_unharmed(victim)
    finally:
        attacker.close()


@pytest.mark.parametrize("code, call", [("os.fork()", "clone"), ("import ctypes; ctypes.CDLL(None).ptrace(16, VICTIM, 0, 0)", "ptrace"),
                                        ("import ctypes; ctypes.CDLL(None).syscall(272, 0x20000)", "unshare")])
def test_a_compromised_fork_is_held_by_the_policy(victim, artifact, code, call):
    """The template's own policy lets it fork; the policy each fork stacks on itself kills a new process, a trace
    and a new namespace, as in a fresh measurer jail, and the kernel's record names the call by the fork's uid."""
    with pytest.raises(WorkerFailure) as failure:
        _attack(victim, artifact, code)
    assert failure.value.reason == "sandbox_violation"
    if kernel_log.readable():
        assert call in failure.value.detail, failure.value.detail
    _sibling_unharmed(victim)


@pytest.mark.parametrize("code, reason", [("os.kill(os.getpid(), signal.SIGSEGV)", "crashed"),
                                          ("while True: pass", "timeout"),
                                          ("hoard = bytearray(900 << 20); hoard[::4096] = b'x' * len(hoard[::4096])\n"
                                           "import time; time.sleep(30)", "memory_limit")])
def test_a_forks_crash_hang_or_memory_bomb_costs_only_itself(victim, artifact, code, reason):
    limits = Limits(time_limit_s=4, memory_limit_mb=500, sandbox="required", threads=1)
    with pytest.raises(WorkerFailure) as failure:
        _attack(victim, artifact, code, limits)
    assert failure.value.reason == reason, failure.value
    _sibling_unharmed(victim)


def test_a_killed_template_is_started_again(artifact):
    template = forks.template_for(LIMITS, True, False)
    process = _measurer(template, artifact)
    before = _predict(process)
    os.killpg(template.proc.pid, signal.SIGKILL)  # nsjail: the template dies with it, and every fork with the template
    process.proc.wait(timeout=10)
    with pytest.raises(WorkerFailure) as failure:
        _predict(process)
    assert failure.value.reason == "crashed" and "template" in failure.value.detail
    process.close()
    again = forks.template_for(LIMITS, True, False)
    assert again is not template and again.alive
    process = _measurer(again, artifact)
    try:
        assert _predict(process) == before
    finally:
        process.close()
