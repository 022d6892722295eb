"""The measurer template: one jailed process per scoring run that imports torch and the measuring code once, then
forks one measurer per exported program. Runs inside its own jail (forks.py starts it; jail.TEMPLATE_POLICY).

It never reads an artifact and runs no request but the trusted parent's, which come over one AF_UNIX socket that
only the parent holds: "spawn" (with the fork's pipes, its artifact socket and its log, as SCM_RIGHTS) and, from
here, "forked" (the new process's pid in the jail) and "exited" (its wait status, which the parent maps to a
failure reason exactly as it does a fresh jail's). It is the jail's first process (pid 1 of its PID namespace),
so no process inside can signal it, and when it dies the kernel kills every fork with it.

A fork confines itself before it can read a byte of an artifact (`_confine`): only its own descriptors kept, a uid
of its own (the jail maps one per fork, so no two forks own each other's processes or /proc files), every
capability lost with it, non-dumpable, pinned to its job's cores, and POLICY stacked on the template's filter
(seccomp_filter.py): from then on it is held exactly as a fresh measurer jail is. The jail gives it nothing
writable: a read-only root and no /tmp; the artifact comes as a read-only descriptor, results go over pipes.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import socket
import sys
import tempfile
import traceback

from fercomp.submission import sandbox

PR_SET_DUMPABLE = 4
MAX_MESSAGE = 1 << 16
_FORK_FDS = 4  # command pipe, answer pipe, artifact socket, log


def main(sock_fd: int) -> None:
    sandbox.libraries_found_without_processes()
    # Nothing here is writable: torch asks for a temporary folder at import and makes its compiler's cache folder
    # there (a cache a measurer never fills), where tempfile's search for a writable folder fails. Both are given
    # folders that exist; a write into them fails, as it should.
    tempfile.tempdir = "/"
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = "/"
    from fercomp.submission import measurer, seccomp_filter

    measurer.preload()
    measurer.warm_up()
    _one_thread()
    _not_dumpable()
    channel = socket.socket(fileno=sock_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so SIGCHLD writes the wake-up byte
    _tell(channel, {"ready": True})
    while True:
        readable = select.select([channel, wake_r], [], [])[0]
        if wake_r in readable:
            os.read(wake_r, 4096)
            _reap(channel)
        if channel in readable:
            message, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE, _FORK_FDS)
            if not message:  # the parent closed its end: the run is over
                return
            request = json.loads(message)
            pid = os.fork()
            if pid == 0:
                _child(request, fds, channel, measurer, seccomp_filter)
            for fd in fds:
                os.close(fd)
            _tell(channel, {"forked": request["seq"], "pid": pid})


def _child(request: dict, fds: list[int], channel: socket.socket, measurer, seccomp_filter) -> None:
    """The fork: confine, then serve the parent as a fresh measurer would. Never returns."""
    code = 70
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        channel.detach()  # closed with every other descriptor of the template's in _confine
        cmd, resp, artifacts = _confine(request, fds, seccomp_filter)
        hook = request.get("hook")  # tests only (forks.TEST_HOOK): code run where a loader exploit would land
        landing = (lambda: exec(compile(hook, "<fork hook>", "exec"), {"__name__": "fork_hook"})) if hook else None
        measurer.serve(cmd, resp, artifacts, landing)
        code = 0
    except BaseException:  # noqa: BLE001 - whatever happened, the fork ends here and the parent names it
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _confine(request: dict, fds: list[int], seccomp_filter) -> tuple[int, int, int]:
    """Everything that holds the fork before it reads an artifact; raises (and the fork exits) if any step fails."""
    cmd, resp, artifacts, log = fds
    os.dup2(log, 1)
    os.dup2(log, 2)
    kept = {0, 1, 2, cmd, resp, artifacts}
    for fd in map(int, os.listdir("/proc/self/fd")):
        if fd not in kept:
            try:
                os.close(fd)
            except OSError:
                pass
    uid = int(request["uid"])
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from uid 0 to another: every capability is dropped
    if os.getresuid() != (uid, uid, uid) or _capabilities() != 0:
        raise PermissionError("the fork still holds capabilities or another uid")
    _not_dumpable()
    if request.get("cores"):
        os.sched_setaffinity(0, request["cores"])
    seccomp_filter.stack_policy()
    return cmd, resp, artifacts


def _one_thread() -> None:
    """Refuse to serve with a second thread: a fork copies only the thread that forks, so a lock another thread
    held (an OpenMP pool's, a monitor's) would stay held in every fork. The parent then measures in fresh jails."""
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        raise RuntimeError(f"the measurer template runs {threads} threads before it forks; it forks only with one")


def _capabilities() -> int:
    with open("/proc/self/status") as fh:
        fields = dict(line.split(":", 1) for line in fh if ":" in line)
    return int(fields["CapEff"].strip(), 16) | int(fields["CapPrm"].strip(), 16) | int(fields["CapAmb"].strip(), 16)


def _not_dumpable() -> None:
    """No ptrace and no /proc/<pid>/mem, fd or environ for another process of the same uid."""
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _reap(channel: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _tell(channel, {"exited": pid, "status": status})


def _tell(channel: socket.socket, message: dict) -> None:
    channel.send(json.dumps(message).encode())


if __name__ == "__main__":
    main(int(sys.argv[1]))
