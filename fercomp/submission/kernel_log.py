"""Which system call the jail's seccomp policy killed a process for, read from the kernel's own record.

A seccomp kill reaches the parent as SIGSYS and nothing more: the process is gone, and nsjail's reading of its
`/proc/<pid>/syscall` comes back empty. The kernel does write the call down: an audit record (type 1326,
AUDIT_SECCOMP) with the caller's uid and the call's number, which goes to the kernel log (`/dev/kmsg`) when no
audit daemon takes it. The parent reads it there, so the name comes from the kernel, never from the process
that was killed (a SIGSYS handler inside the jail would be the attacker's to forge).

A record is matched to its jail by uid: a root grader gives every jail a host uid of its own (jail.py). Reading
the kernel log needs root (kernel.dmesg_restrict); where it cannot be read, or auditd takes the records, or the
kernel's printk rate limit dropped the line, the call is not named and the failure says why. Stdlib only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import time
from dataclasses import dataclass

KMSG = "/dev/kmsg"
AUDIT_SECCOMP = "audit: type=1326 "
KILL_PROCESS = "0x80000000"  # SECCOMP_RET_KILL_PROCESS, as the record's code= field spells it
_RECORD_BYTES = 8192  # one read of /dev/kmsg returns one whole record; a longer one is refused (EINVAL)


@dataclass(frozen=True)
class SeccompKill:
    """One kernel record of a process killed by a seccomp filter."""

    uid: int
    pid: int
    arch: int
    number: int
    seconds: float  # the kernel log's clock (monotonic, seconds since boot)

    @property
    def syscall(self) -> str:
        return syscall_name(self.arch, self.number)


def parse(record: bytes) -> SeccompKill | None:
    """The seccomp kill in one /dev/kmsg record (`prio,seq,usec,flags;message`), else None.

    Fields are read as space-separated key=value tokens, first occurrence wins: the kernel hex-encodes a
    `comm` or `exe` holding a space or a quote, so a process cannot name itself into another field."""
    head, _, message = record.decode("utf-8", "replace").partition(";")
    prefix = head.split(",")
    # facility 0 (priority < 8): written by the kernel itself, not by a user process through /dev/kmsg
    if not message.startswith(AUDIT_SECCOMP) or len(prefix) < 3 or not prefix[0].isdigit() or int(prefix[0]) >= 8:
        return None
    fields: dict[str, str] = {}
    for token in message.split():
        key, eq, value = token.partition("=")
        if eq and key not in fields:
            fields[key] = value
    # the action: SECCOMP_RET_KILL_PROCESS, the policy's. A filter a hand-in stacks on its own with SECCOMP_RET_LOG
    # writes records of the same type and uid for any call it likes, newer than its kill (or in its place, once
    # they spend the printk rate limit): tests/hostile/cases/seccomp_log_forgery.py had getpid named
    if fields.get("code") != KILL_PROCESS:
        return None
    try:
        usec = int(prefix[2])
        return SeccompKill(uid=int(fields["uid"]), pid=int(fields["pid"]), arch=int(fields["arch"], 16),
                           number=int(fields["syscall"]), seconds=usec / 1e6)
    except (KeyError, ValueError, IndexError):
        return None


def records() -> list[bytes]:
    """Every record the kernel log holds now; [] where it cannot be read."""
    try:
        fd = os.open(KMSG, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return []
    found: list[bytes] = []
    try:
        while True:
            try:
                found.append(os.read(fd, _RECORD_BYTES))
            except BlockingIOError:
                return found
            except BrokenPipeError:  # records overwritten while we read: go on from the oldest left
                continue
            except OSError:
                return found
    finally:
        os.close(fd)


def readable() -> bool:
    """Whether this process may read the kernel log (root, or kernel.dmesg_restrict = 0)."""
    try:
        os.close(os.open(KMSG, os.O_RDONLY | os.O_NONBLOCK))
        return True
    except OSError:
        return False


def find_kill(uid: int, since: float, wait_s: float = 1.0) -> SeccompKill | None:
    """The newest seccomp kill of a process running as host `uid` logged after `since` (time.monotonic()).

    kauditd writes the record a moment after the kill, so this polls for up to `wait_s`."""
    give_up = time.monotonic() + wait_s
    while True:
        kills = [k for k in map(parse, records()) if k and k.uid == uid and k.seconds >= since]
        if kills or time.monotonic() >= give_up:
            return kills[-1] if kills else None
        time.sleep(0.05)


@functools.lru_cache(maxsize=None)
def syscall_name(arch: int, number: int) -> str:
    """The system call's name from libseccomp (whose arch tokens are the audit record's), else its number."""
    path = ctypes.util.find_library("seccomp")
    if path:
        try:
            lib = ctypes.CDLL(path)
            lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_void_p
            lib.seccomp_syscall_resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
            name = lib.seccomp_syscall_resolve_num_arch(arch, number)
            if name:
                try:
                    return ctypes.string_at(name).decode()
                finally:
                    ctypes.CDLL(None).free(ctypes.c_void_p(name))
        except (OSError, AttributeError):
            pass
    return f"system call {number}"
