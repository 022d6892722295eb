"""The worker template: one jailed process per scoring run that imports torch, its exporter and the worker's code
once (and exports a tiny built-in model, so the tracer's first-call costs are paid once), then forks one worker
per hand-in. Runs inside its own jail (worker_forks.py starts it; jail.WORKER_TEMPLATE_POLICY).

It never reads a hand-in and runs no request but the trusted parent's, over one AF_UNIX socket only the parent
holds: "spawn" (the fork's command and answer pipes and its log as SCM_RIGHTS; its uid, home, paths, cores and
file-size limit) and, from here, "forked" and "exited", as the measurer template's (template.py).

Each fork is isolated as a fresh worker jail is before it can read a byte of a hand-in (`_child`):
- only its own descriptors kept;
- a uid of its own and its own user, mount, PID, network, IPC, UTS and cgroup namespaces (fresh_root.own_namespaces);
- a fresh root: a new tmpfs with the fresh jail's read-only paths, its own home, private /tmp and /dev/shm and its
  own /proc, the template's root detached (fresh_root.fresh_root); it runs as pid 1 of its PID namespace;
- no capability (bounding set too), no_new_privs, its file-size limit, pinned to its job's cores, a
  death signal tied to the process that waits for it, and jail.POLICY stacked on the template's filter, exactly
  the policy a fresh worker jail runs; the parent puts it in a memory and pids cgroup of its own before it starts.
Only then does it serve the parent as a fresh worker does (worker.serve): the hand-in comes over the command pipe
and from its home, which the trusted side staged; the export goes into that home, which no sibling can reach.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import socket
import sys
import tempfile
import traceback

from fercomp.submission import sandbox, template

CONFINE_FAILED = 75  # a fork's exit status when its confinement failed: the trusted side then starts fresh jails
_FORK_FDS = 3  # command pipe, answer pipe, log


def preload() -> None:
    """Everything a worker imports, and one export of a built-in model (never a hand-in's)."""
    import io

    import torch
    from torch.export import Dim

    from fercomp.submission import build, preprocess, protocol, worker  # noqa: F401

    import torch._dynamo  # noqa: F401
    worker._import_before_the_hook()
    from fvcore.nn import FlopCountAnalysis  # noqa: F401 - the layer table's

    torch.set_num_threads(1)  # no thread pool in the template: a pool's threads do not survive a fork
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 46 * 46, 7))
    with torch.no_grad():
        program = torch.export.export(model.eval(), (torch.zeros(2, 1, 48, 48),),
                                      dynamic_shapes=({0: Dim("batch", min=1, max=protocol.MAX_BATCH)},), strict=False)
    torch.export.save(program, io.BytesIO())


def main(sock_fd: int) -> None:
    sandbox.libraries_found_without_processes()
    # Nothing of the template's is writable: torch asks for a temporary folder at import and makes its compiler's
    # cache folder there (a cache an export never fills); both are given a folder that exists. A fork asks again,
    # in its own root, where TMPDIR is its home, as a fresh worker's does.
    tempfile.tempdir = "/"
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = "/"
    preload()
    template._not_dumpable()
    channel = socket.socket(fileno=sock_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so SIGCHLD writes the wake-up byte
    template._tell(channel, {"ready": True, "threads": len(os.listdir("/proc/self/task"))})
    while True:
        readable = select.select([channel, wake_r], [], [])[0]
        if wake_r in readable:
            os.read(wake_r, 4096)
            template._reap(channel)
        if channel in readable:
            message, fds, _, _ = socket.recv_fds(channel, template.MAX_MESSAGE, _FORK_FDS)
            if not message:  # the parent closed its end: the run is over
                return
            request = json.loads(message)
            pid = os.fork()
            if pid == 0:
                _child(request, fds, channel)
            for fd in fds:
                os.close(fd)
            template._tell(channel, {"forked": request["seq"], "pid": pid})


def _child(request: dict, fds: list[int], channel: socket.socket) -> None:
    """The fork: its own namespaces, then the worker as pid 1 of its own PID namespace. Never returns."""
    code = CONFINE_FAILED
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        channel.detach()  # closed with every other descriptor of the template's just below
        cmd, resp, log = fds
        os.dup2(log, 1)
        os.dup2(log, 2)
        _close_all_but({0, 1, 2, cmd, resp})
        from fercomp.submission import fresh_root

        fresh_root.own_namespaces(int(request["uid"]))
        # The worker starts once the parent has put this process in its cgroup (it then sends the worker's setup):
        # the worker, forked after, is in that cgroup from its first instruction
        select.select([cmd], [], [])
        worker = os.fork()
        if worker == 0:
            _worker(request, cmd, resp)
        os.close(cmd)
        os.close(resp)
        code = _mirror(worker)
    except BaseException:  # noqa: BLE001 - whatever happened, the fork ends here and the parent names it
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _worker(request: dict, cmd: int, resp: int) -> None:
    """pid 1 of the fork's PID namespace: confined as a fresh worker jail, then worker.serve. Never returns."""
    code = CONFINE_FAILED
    try:
        from fercomp.submission import fresh_root, seccomp_filter, worker

        fresh_root.prctl(fresh_root.PR_SET_PDEATHSIG, signal.SIGKILL)  # killed with the fork that waits for it
        fresh_root.fresh_root(request["read_only"], request["writable"], request["home"], request["inside_home"])
        fresh_root.drop_privileges()
        limit = int(request["file_size_mb"]) << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        if request.get("cores"):
            os.sched_setaffinity(0, request["cores"])
        _as_a_fresh_worker(cmd, resp)
        seccomp_filter.stack_policy()
        code = 70
        worker.serve(cmd, resp)
        code = 0
    except BaseException:  # noqa: BLE001 - the parent names the failure from the exit status and the log
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _as_a_fresh_worker(cmd: int, resp: int) -> None:
    """What a fresh worker's interpreter would hold that the template's does not (a hand-in that looks finds the
    same): its arguments, its home first on sys.path, the home as TMPDIR, a session of its own, dumpable (a
    fresh jail's process is: it may read its own /proc files; nothing else shares its uid or sees its PID
    namespace), and the import system's folder listings taken in this root, before the audit hook (the
    template's were taken in its root, and a listing found stale is taken again, which the hook refuses)."""
    import importlib
    import importlib.machinery

    from fercomp.submission import fresh_root, worker

    sys.argv = [worker.__file__, str(cmd), str(resp)]
    sys.path[0] = os.getcwd()  # `python -m` puts its start folder there: the home
    tempfile.tempdir = None  # found again: the home (TMPDIR)
    os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
    # its own process group: kill(0) reaches only itself, as in a fresh jail (the fork waiting for it has its uid)
    os.setsid()
    fresh_root.prctl(fresh_root.PR_SET_DUMPABLE, 1)
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    importlib.machinery.PathFinder.find_spec("_fercomp_fills_every_listing")


def _mirror(pid: int) -> int:
    """Wait for the worker and end as it ended (a signal as that signal), so the parent names its death as a
    fresh jail's."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        signo = os.WTERMSIG(status)
        signal.signal(signo, signal.SIG_DFL)
        os.kill(os.getpid(), signo)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 70


def _close_all_but(kept: set[int]) -> None:
    for fd in map(int, os.listdir("/proc/self/fd")):
        if fd not in kept:
            try:
                os.close(fd)
            except OSError:
                pass


if __name__ == "__main__":
    main(int(sys.argv[1]))
