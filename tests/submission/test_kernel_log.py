"""The system call a seccomp kill was for comes from the kernel's record, matched to its jail by host uid."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fercomp.submission import jail, kernel_log

pytestmark = pytest.mark.jail  # jails started with jail.command directly

X86_64 = 0xC000003E  # AUDIT_ARCH_X86_64, libseccomp's token for it too


def _record(message: str, priority: int = 5, usec: int = 17_612_167_818) -> bytes:
    return f"{priority},1007,{usec},-;{message}\n".encode()


def test_a_kernel_record_is_parsed_field_by_field():
    kill = kernel_log.parse(_record(
        'audit: type=1326 audit(1796034179.760:90): auid=4294967295 uid=1073741830 gid=1073741830 ses=4294967295 '
        'pid=2726 comm="python" exe="/usr/bin/python3.11" sig=31 arch=c000003e syscall=101 compat=0 '
        'ip=0x7fda2ccf2353 code=0x80000000'))
    assert (kill.uid, kill.pid, kill.arch, kill.number, kill.syscall) == (1073741830, 2726, X86_64, 101, "ptrace")
    assert kill.seconds == pytest.approx(17612.167818)


def test_a_process_cannot_name_itself_into_another_field():
    # a comm without spaces stays one quoted token; the first uid= and syscall= are the kernel's
    kill = kernel_log.parse(_record('audit: type=1326 audit(1.0:1): auid=1 uid=7 gid=7 ses=1 pid=9 '
                                    'comm="uid=0" exe="/x" sig=31 arch=c000003e syscall=56 compat=0 code=0x80000000'))
    assert (kill.uid, kill.syscall) == (7, "clone")
    assert kernel_log.parse(_record('audit: type=1326 uid=7 pid=9 arch=c000003e syscall=56', priority=13)) is None, \
        "a line written by a user process (facility user) is not the kernel's"
    assert kernel_log.parse(_record("audit: type=1300 uid=7 pid=9 arch=c000003e syscall=56")) is None
    assert kernel_log.parse(_record("usb 1-1: new device")) is None


def test_a_record_of_a_filter_that_only_logs_is_no_kill():
    """A hand-in's own filter with SECCOMP_RET_LOG writes type-1326 records of its uid for calls it did not die of."""
    logged = ('audit: type=1326 audit(1.0:1): auid=1 uid=7 gid=7 ses=1 pid=9 comm="python" exe="/x" sig=0 '
              'arch=c000003e syscall=39 compat=0 ip=0x1 code=0x7ffc0000')
    assert kernel_log.parse(_record(logged)) is None
    assert kernel_log.parse(_record(logged.replace("sig=0", "sig=31").replace("0x7ffc0000", "0x80000000"))).syscall == "getpid"


def test_an_unknown_number_is_named_by_its_number():
    assert kernel_log.syscall_name(X86_64, 99_999) == "system call 99999"
    assert kernel_log.syscall_name(X86_64, 166) == "umount2"


def _needs_the_kernel_log() -> None:
    if os.geteuid() != 0 or not kernel_log.readable():
        if os.environ.get("CI"):
            pytest.fail("CI grades as root, where the kernel log is readable", pytrace=False)
        pytest.skip("the kernel log is root's to read")


def _killed_in_a_jail(code: str) -> tuple[int, float]:
    """Run `code` in a jail of its own; (its host uid, when it started)."""
    with tempfile.TemporaryDirectory(prefix="fercomp-kmsg-test-") as home:
        ids = jail.new_host_ids()
        jail.prepare_home(Path(home), ids)
        spec = jail.JailSpec(argv=(sys.executable, "-S", "-c", code), home=home, time_limit_s=30, host_ids=ids)
        started = time.monotonic()
        done = subprocess.run(jail.command(spec), capture_output=True, timeout=60)
    assert done.returncode == 128 + signal.SIGSYS, done.stderr[-500:]
    return ids[0], started


def test_the_kernel_names_the_call_that_killed_a_jail_and_no_other_jail_claims_it():
    _needs_the_kernel_log()
    ptrace_uid, since = _killed_in_a_jail("import ctypes; ctypes.CDLL(None).ptrace(16, 1, 0, 0)")
    mount_uid, _ = _killed_in_a_jail("import ctypes; ctypes.CDLL(None).umount2(b'/tmp', 2)")
    assert ptrace_uid != mount_uid and min(ptrace_uid, mount_uid) >= jail.HOST_ID_BASE
    assert kernel_log.find_kill(ptrace_uid, since).syscall == "ptrace"
    assert kernel_log.find_kill(mount_uid, since).syscall == "umount2"
    assert kernel_log.find_kill(jail.new_host_ids()[0], since, wait_s=0.2) is None


def test_a_record_written_from_user_space_is_not_taken_for_the_kernels():
    _needs_the_kernel_log()
    uid, since = jail.new_host_ids()[0], time.monotonic() - 1
    with open(kernel_log.KMSG, "w") as kmsg:  # root may write the kernel log; the jail has no /dev/kmsg
        kmsg.write(f"<5>audit: type=1326 audit(1.0:1): auid=1 uid={uid} gid={uid} ses=1 pid=1 comm=\"x\" "
                   "exe=\"/x\" sig=31 arch=c000003e syscall=101 compat=0 code=0x80000000\n")
    assert kernel_log.find_kill(uid, since, wait_s=0.2) is None
