"""Hand-ins against the worker template: a forked worker runs submitted code, so each attack here is simply a
hand-in whose import probes what it can reach, scored by a worker forked from the same template as a sibling that
holds a secret. From inside its fork it must find itself alone (pid 1 of its own PID namespace, nobody of its own
user namespace, no capability, loopback only), find neither the sibling's home nor the template's root nor any
hand-in's data in its memory, be killed for a new namespace or process, and its crash, hang or memory bomb must
cost only itself: the sibling's answers stay the same bytes and the template keeps forking (or starts again)."""

import json
import os
import secrets
import signal
import time

import pytest

from fercomp.submission import kernel_log, session, watchdog, worker_forks
from fercomp.submission.contract import read_submission
from fercomp.submission.runner import HandinJails, Limits, WorkerFailure
from tests.scoring_helpers import FIXTURES

pytestmark = [pytest.mark.jail,
              pytest.mark.skipif(worker_forks.unusable(True, False) is not None and not os.environ.get("CI"),
                                 reason=f"no worker template here: {worker_forks.unusable(True, False)}")]

LIMITS = Limits(time_limit_s=60, memory_limit_mb=1500, sandbox="required", threads=1)
TOKEN = secrets.token_hex(8)  # the sibling's secret, a run of it: another fork must not find it in its memory

#: A hand-in's probe, run at import: each attempt's outcome ("done" when it got through), printed to its log.
PROBE = """
import ctypes, json, os, signal
libc = ctypes.CDLL(None, use_errno=True)
found = {}
def attempt(name, action):
    try:
        action()
        found[name] = "done"
    except OSError as exc:
        found[name] = type(exc).__name__
def check(result):
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result
def raw(path, flags=os.O_RDONLY):  # libc's open: the kernel answers, not the audit hook (a second layer)
    return check(libc.open(path.encode(), flags, 0o644))
def read(path):
    fd, chunks = raw(path), []
    try:
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")
def listing(path):
    fd = raw(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return sorted(os.listdir(fd))
    finally:
        os.close(fd)
def write_as(path, text):
    fd = raw(path, os.O_WRONLY | os.O_CREAT)
    os.write(fd, text.encode())
    os.close(fd)
def write(folder):
    write_as(os.path.join(folder, "fercomp-planted"), "planted")
def kill(pid):
    check(libc.kill(pid, signal.SIGKILL))
"""

def _handin(tmp_path, name: str, code: str):
    source = (FIXTURES / "rule_model.py").read_text()
    path = tmp_path / f"{name}.py"
    path.write_text(code + "\n" + source)
    return read_submission(path)


def _worker(tmp_path, name: str, code: str, limits: Limits = LIMITS):
    """A hand-in's jails with its worker forked and the hand-in built (its import has run)."""
    files = _handin(tmp_path, name, code)
    jails = HandinJails(limits, "cpu", files.handin())
    try:
        session._build_in_worker(jails, files, False, False, {})
    except BaseException:
        jails.close_worker()
        raise
    assert jails.worker_start_mode == "forked", jails.worker_fresh_because
    return jails


def _report(jails) -> dict:
    line = next(line for line in reversed(jails.worker().log_tail().splitlines()) if line.startswith("HOOK "))
    return json.loads(line[5:])


def _summary(jails) -> str:
    return json.dumps(session.summary(jails))


@pytest.fixture(scope="module")
def victim(tmp_path_factory):
    """A sibling worker holding a secret in its memory and its home, and its layer table before any attack."""
    tmp = tmp_path_factory.mktemp("victim")
    jails = _worker(tmp, "victim", f"SECRET = {TOKEN!r} * 4096\n" + PROBE + "write_as('secret.txt', SECRET)\n")
    yield jails, _summary(jails)
    jails.close_worker()
    worker_forks.close_all()


def _attack(tmp_path, victim, code: str, limits: Limits = LIMITS):
    sibling, _ = victim
    sibling_pid = sibling.worker().proc.pid
    hook = (PROBE + f"VICTIM_HOST_PID = {sibling_pid}\nVICTIM_HOME = {sibling.worker().home!r}\n"
            f"TOKEN = {TOKEN[::-1]!r}[::-1]\n" + code + '\nprint("HOOK " + json.dumps(found), flush=True)\n')
    return _worker(tmp_path, "attacker", hook, limits)


def _sibling_unharmed(victim) -> None:
    sibling, before = victim
    assert _summary(sibling) == before, "the sibling's answer changed"
    assert os.listdir(sibling.worker().home) and "fercomp-planted" not in os.listdir(sibling.worker().home)
    assert sibling.worker().proc.poll() is None


def test_a_forked_worker_is_alone_in_its_own_namespaces(tmp_path, victim):
    attacker = _attack(tmp_path, victim, """
found["pid"] = os.getpid()
found["processes"] = [name for name in listing("/proc") if name.isdigit()]
found["ids"] = [os.getuid(), os.geteuid(), os.getgid()]
found["uid_map"] = read("/proc/self/uid_map").split()
status = dict(line.split(":", 1) for line in read("/proc/self/status").splitlines() if ":" in line)
found["capabilities"] = [int(status[k].strip(), 16) for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh")]
found["no_new_privs"] = status["NoNewPrivs"].strip()
found["interfaces"] = sorted(line.split(":")[0].strip() for line in read("/proc/net/dev").splitlines()[2:])
attempt("signal the victim", lambda: kill(VICTIM_HOST_PID))
attempt("read the victim's /proc", lambda: read(f"/proc/{VICTIM_HOST_PID}/environ"))
""")
    try:
        found = _report(attacker)
        assert found.pop("pid") == 1 and found.pop("processes") == ["1"], found
        assert found.pop("ids") == [65534, 65534, 65534]
        uid_map = found.pop("uid_map")
        assert uid_map[:1] == ["65534"] and uid_map[2] == "1" and len(uid_map) == 3, uid_map
        assert found.pop("capabilities") == [0] * 5 and found.pop("no_new_privs") == "1"
        assert found.pop("interfaces") == ["lo"]
        assert found.pop("signal the victim") == "ProcessLookupError"
        assert found.pop("read the victim's /proc") == "FileNotFoundError"
        _sibling_unharmed(victim)
    finally:
        attacker.close_worker()


def test_a_forked_worker_sees_no_siblings_home_nor_the_templates_root(tmp_path, victim):
    attacker = _attack(tmp_path, victim, """
import tempfile
found["root"] = listing("/")
found["victim home"] = os.path.exists(VICTIM_HOME) or os.path.exists(os.path.dirname(VICTIM_HOME))
for folder in ("/", "/forkroot", "/proc/self/cwd/..", "/dev", "/usr"):
    attempt(f"write {folder}", lambda: write(folder))
attempt("write home", lambda: write(os.environ["HOME"]))
""")
    try:
        found = _report(attacker)
        assert "forkroot" not in found.pop("root") and found.pop("victim home") is False
        assert found.pop("write home") == "done", "its own home is writable, as a fresh jail's"
        assert not [name for name, outcome in found.items() if outcome == "done"], found
        _sibling_unharmed(victim)
    finally:
        attacker.close_worker()


def test_no_hand_ins_data_is_left_in_a_forks_memory(tmp_path, victim):
    """The template never loaded a hand-in: a fork's anonymous memory holds no run of the sibling's secret (and
    the scan does find a run of its own, so it reads the memory it claims to)."""
    attacker = _attack(tmp_path, victim, """
import re, sys
own = (TOKEN[::-1] + "-") * 64  # a run of its own: the scan must find it
own = own.encode()
def runs(token):
    # runs of `token` (more than twice over) in its anonymous memory, read in place (a fork is non-dumpable: its
    # /proc/self/mem is root's), where a hand-in's data left by a template or a sibling would lie
    needle, count, step = (token * 2).encode(), 0, 64 << 20
    for line in read("/proc/self/maps").splitlines():
        fields = line.split()
        if not fields[1].startswith("r") or (len(fields) > 5 and fields[5] not in ("[heap]", "[stack]")):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        for chunk in range(start, end, step):
            data = ctypes.string_at(chunk, min(step + 4096, end - chunk))
            at = data.find(needle)
            while at >= 0:
                if data[at + len(needle):at + len(needle) + len(token)] == token.encode():
                    count += 1
                at = data.find(needle, at + len(needle))
    return count
found["own run"] = runs(TOKEN[::-1] + "-")
found["sibling's runs"] = runs(TOKEN)
found["hand-in modules"] = sorted(name for name in sys.modules if name.startswith("submission_"))
""")
    try:
        found = _report(attacker)
        assert found["own run"] >= 1, "the scan did not find the fork's own data"
        assert found["sibling's runs"] == 0 and found["hand-in modules"] == ["submission_attacker"], found
    finally:
        attacker.close_worker()


@pytest.mark.parametrize("code, call", [("import ctypes; ctypes.CDLL(None).syscall(272, 0x10000000)", "unshare"),
                                        ("import ctypes; ctypes.CDLL(None).syscall(56, 17, 0, 0, 0)", "clone"),  # a new process
                                        ("import ctypes; ctypes.CDLL(None).syscall(165, 0, b'/', 0, 0x1000 | 0x20, 0)", "mount")])
def test_a_forked_worker_is_held_by_the_policy(tmp_path, victim, code, call):
    """The template's policy lets a fork make its jail; the policy it stacks before the hand-in kills a new
    namespace, a new process and a mount, as in a fresh worker jail, and the kernel's record names the call by
    the fork's uid."""
    with pytest.raises(WorkerFailure) as failure:
        _attack(tmp_path, victim, code)
    assert failure.value.reason == "sandbox_violation", failure.value
    if kernel_log.readable():
        assert call in failure.value.detail, failure.value.detail
    _sibling_unharmed(victim)


@pytest.mark.parametrize("code, reason", [("import ctypes; ctypes.string_at(0)", "crashed"),
                                          ("while True: pass", "timeout"),
                                          ("hoard = bytearray(900 << 20); hoard[::4096] = b'x' * len(hoard[::4096])\n"
                                           "import time; time.sleep(30)", "memory_limit")])
def test_a_forks_crash_hang_or_memory_bomb_costs_only_itself(tmp_path, victim, code, reason):
    limits = Limits(time_limit_s=6, memory_limit_mb=700, sandbox="required", threads=1)
    with pytest.raises(WorkerFailure) as failure:
        _attack(tmp_path, victim, code, limits)
    assert failure.value.reason == reason, failure.value
    _sibling_unharmed(victim)


def _gone(pids: list[int]) -> bool:
    for _ in range(100):
        if not any(os.path.exists(f"/proc/{pid}") for pid in pids):
            return True
        time.sleep(0.05)
    return False


def test_a_worker_dies_with_the_fork_the_parent_kills(tmp_path, victim):
    """A deadline or a limit kills the fork (through its pidfd): the worker it waits for, in a PID namespace of
    its own, dies with it and holds nothing of the grader's time or memory."""
    jails = _worker(tmp_path, "killed", "")
    try:
        processes = watchdog.tree_pids(jails.worker().proc.pid)
        assert len(processes) == 2
        jails.worker()._kill()
        assert _gone(processes), "a worker outlived the fork the parent killed"
        _sibling_unharmed(victim)
    finally:
        jails.close_worker()


def test_a_killed_worker_template_is_started_again(tmp_path, victim):
    template = worker_forks.template_for(LIMITS, True, False)
    processes = watchdog.tree_pids(victim[0].worker().proc.pid)  # the fork and the worker it waits for
    assert len(processes) == 2
    os.killpg(template.proc.pid, signal.SIGKILL)  # nsjail: the template dies with it, and every fork with it
    victim[0].worker().proc.wait(timeout=10)
    with pytest.raises(WorkerFailure) as failure:
        _summary(victim[0])
    assert failure.value.reason == "crashed" and "template" in failure.value.detail, failure.value
    assert _gone(processes), "a worker outlived its template"
    again = _worker(tmp_path, "again", "")
    try:
        assert worker_forks.template_for(LIMITS, True, False) is not template
        assert session.summary(again)
    finally:
        again.close_worker()
