"""A worker template (a zygote): one process per grading run that has imported torch, fvcore, ptflops and
fercomp's worker code, has run no submitted code and no torch operation, and forks a fresh worker per
submission. The child then does exactly what a freshly started worker does (fercomp/submission/worker.py:
sandbox namespaces, rlimits, its measuring code remembered, the audit hook) before it imports the
submission, so isolation is unchanged: every submission still runs in a new process no other submission
has touched — forked from a template none has touched — and only the start-up (≈ 1.5 s of imports here)
is saved.

Fork is safe only while the template is single-threaded and has not initialised CUDA; it checks both
before every fork and refuses otherwise, and the runner then starts a fresh worker (as it does on a
system without fork or AF_UNIX descriptor passing). The template reaps its children and reports each
one's exit status on a pipe the runner handed it, so the runner can tell a crash from an exit.

Control protocol (an AF_UNIX socket pair): the runner sends one JSON line with the child's environment
and working directory, and four descriptors (command pipe, response pipe, log file, status pipe); the
template answers {"pid": …} or {"error": …}.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import tempfile

STATUS = struct.Struct("<i")  # a child's wait status, as os.waitstatus_to_exitcode gives it


def _preload() -> None:
    """Everything a worker imports before it runs submitted code, and nothing that starts a thread."""
    import fvcore.nn  # noqa: F401
    import torch  # noqa: F401
    import torch.utils.flop_counter  # noqa: F401

    from fercomp.measure import flops, latency, micronet, roofline  # noqa: F401
    from fercomp.submission import build, preprocess, worker  # noqa: F401

    flops._import_ptflops()
    worker._import_before_the_hook()


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _fork_refusal() -> str | None:
    """Why forking now would be unsafe, or None."""
    import torch

    if threads() != 1:
        return f"the template has {threads()} threads; a fork would copy locks held by the others"
    if torch.cuda.is_initialized():
        return "the template initialised CUDA, which a forked child cannot use"
    return None


def _child(request: dict, fds: list[int], control: socket.socket, status_fds: dict[int, int]) -> None:
    """In the forked child: become a fresh worker's process, then serve as one. Never returns."""
    code = 1
    try:
        control.close()
        for fd in status_fds.values():
            os.close(fd)
        cmd_r, resp_w, log_fd, status_w = fds
        os.close(status_w)
        os.setsid()  # its own process group: the runner kills it and everything it starts at once
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ["FERCOMP_PARENT_PID"] = str(os.getppid())
        os.environ["FERCOMP_START_MODE"] = "template"
        if sys.path and sys.path[0] == os.getcwd():  # `python -m` put the template's folder first: a fresh
            sys.path[0] = request["cwd"]  # worker has its own home there
        os.chdir(request["cwd"])
        tempfile.tempdir = None  # TMPDIR is the worker's home now
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        from fercomp.submission import worker

        worker.serve(cmd_r, resp_w)
        code = 0
    finally:
        os._exit(code)


def _reap(status_fds: dict[int, int]) -> None:
    """Collect every child that ended and tell its runner how (then forget its status pipe)."""
    while status_fds:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = status_fds.pop(pid, None)
        if fd is not None:
            try:
                os.write(fd, STATUS.pack(os.waitstatus_to_exitcode(status)))
            except OSError:
                pass
            os.close(fd)


def _drain(fd: int) -> bool:
    try:
        return bool(os.read(fd, 512))
    except BlockingIOError:
        return False


def serve(control_fd: int) -> None:
    """Preload, say ready, then fork a worker per request until the runner closes the socket."""
    from fercomp.submission import sandbox

    sandbox.die_with_parent(int(os.environ.get("FERCOMP_PARENT_PID", os.getppid())))
    control = socket.socket(fileno=control_fd)
    try:
        _preload()
        # Objects the template made stay out of the children's garbage collections, which would otherwise
        # touch (and so copy) every page of them in every child (Python's advice for pre-fork servers).
        gc.freeze()
        control.sendall((json.dumps({"ready": True, "pid": os.getpid(), "threads": threads()}) + "\n").encode())
    except Exception as exc:  # noqa: BLE001 - reported; the runner falls back to fresh workers
        control.sendall((json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n").encode())
        return
    status_fds: dict[int, int] = {}
    # A child's end wakes the loop at once (a byte on this pipe), so its runner learns its status at once.
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    while True:
        ready, _, _ = select.select([control, wake_r], [], [], 1.0)
        if wake_r in ready:
            while _drain(wake_r):
                pass
        _reap(status_fds)
        if control not in ready:
            continue
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 16, 4)
        except OSError:
            return
        if not message:
            return  # the runner is done with this template
        refusal = _fork_refusal() if len(fds) == 4 else "expected 4 descriptors"
        if refusal:
            for fd in fds:
                os.close(fd)
            control.sendall((json.dumps({"error": refusal}) + "\n").encode())
            continue
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            for fd in (wake_r, wake_w):
                os.close(fd)
            _child(json.loads(message), fds, control, status_fds)
        status_fds[pid] = fds[3]
        for fd in fds[:3]:
            os.close(fd)
        control.sendall((json.dumps({"pid": pid}) + "\n").encode())


if __name__ == "__main__":
    serve(int(sys.argv[1]))
