"""Confinement of the worker process, applied before any submitted code runs. Stdlib only.

Layers, each recorded in the score record when it is active:
- ``namespaces``: new user, mount and network namespaces. Every protected path (the data source, the
  data cache, the results folder) is covered by an empty bind mount or tmpfs, and the mounts are then
  locked by a second, nested user namespace, so not even code that calls libc directly can reach the
  held-out labels or another team's record. The network namespace has no interfaces. A process in a
  child user namespace cannot ptrace, or read the memory, fds, cwd or root of, the parent.
- ``audit``: a PEP 578 audit hook that refuses file access outside an allow-list, sockets, subprocesses,
  fork/exec and signals to other processes, and remembers each refusal (a refusal fails the record).
- ``rlimits``: no core dumps and a bounded file size.
The parent adds a wall-clock limit and a resident-memory watchdog of its own.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x1, 0x20, 0x1000, 0x4000, 0x40000

#: What each refused audit event is called in a failure reason.
BLOCKED: list[str] = []


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _enter_user_namespace(libc: ctypes.CDLL, flags: int) -> None:
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")


def _mount(libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


def enter_namespaces(protected: list[str], keep: list[str] = ()) -> None:
    """Hide `protected` paths behind empty mounts, cut the network, then lock the mounts. Must run
    while the process is single-threaded (before numpy or torch is imported).

    A `keep` folder inside a protected one stays visible at the same path: the worker's own home sits
    in the folder of every worker's home, and its siblings (other teams' staged hand-ins) must vanish.
    """
    libc = _libc()
    _enter_user_namespace(libc, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET)
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    # Opened in the new mount namespace, before anything is covered: a bind source must belong to it.
    kept = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in keep]
    for path in protected:
        inner = [(k, fd) for k, fd in kept if _inside(k, path)]
        if os.path.isdir(path) and inner:
            _mount(libc, "tmpfs", path, "tmpfs", 0, "size=64k,mode=0755")
            for folder, fd in inner:
                os.makedirs(folder, exist_ok=True)
                _mount(libc, f"/proc/self/fd/{fd}", folder, None, MS_BIND | MS_REC)
            _mount(libc, None, path, None, MS_REMOUNT | MS_RDONLY)
        elif os.path.isdir(path):
            _mount(libc, "tmpfs", path, "tmpfs", MS_RDONLY)
        elif os.path.exists(path):
            _mount(libc, "/dev/null", path, None, MS_BIND)
    for _, fd in kept:
        os.close(fd)
    # A nested user namespace turns every mount above into a locked one: it cannot be unmounted.
    _enter_user_namespace(libc, CLONE_NEWUSER | CLONE_NEWNS)


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to kill this worker when the process that started it dies (PR_SET_PDEATHSIG)."""
    _libc().prctl(1, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def set_rlimits(file_size_mb: int = 64) -> None:
    """No core files and bounded writes (EFBIG, not a signal). Memory is bounded by the parent's resident-
    memory watchdog, not RLIMIT_AS: torch and CUDA reserve far more address space than they use."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_mb << 20, file_size_mb << 20))


_DENIED_EVENTS = {
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
    "socket.getaddrinfo", "socket.gethostbyname", "pty.spawn", "os.startfile", "os.chroot", "os.link",
    "os.symlink", "os.remove", "os.rename", "os.rmdir", "os.truncate", "os.chmod", "os.chown",
    "shutil.rmtree",
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def install_audit_hook(readable: list[str], writable: list[str]) -> None:
    """Refuse file access outside `readable` (read-only) and `writable`, and every event above."""
    readable_roots = tuple(os.path.realpath(p) for p in readable)
    writable_roots = tuple(os.path.realpath(p) for p in writable)
    inside = lambda path, roots: any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)  # noqa: E731

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            if not isinstance(path, (str, bytes)) or path is None:
                return  # an fd being wrapped: opened earlier under this hook
            path = os.path.realpath(os.fsdecode(path))
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(flags & _WRITE_FLAGS)
            allowed = inside(path, writable_roots) or (not writing and inside(path, readable_roots))
            if not allowed:
                _refuse(f"{'write' if writing else 'read'} {path}")
        elif event in ("os.listdir", "os.scandir", "glob.glob", "os.walk"):
            path = args[0] if args and args[0] is not None else "."
            if isinstance(path, (str, bytes)):
                path = os.path.realpath(os.fsdecode(path))
                if not (inside(path, readable_roots) or inside(path, writable_roots)):
                    _refuse(f"list {path}")
        elif event in _DENIED_EVENTS:
            _refuse(f"{event}{_short(args)}")

    sys.addaudithook(hook)


def _short(args: tuple) -> str:
    text = repr(args)
    return text if len(text) <= 120 else text[:117] + "..."


def _refuse(what: str) -> None:
    if len(BLOCKED) < 20:
        BLOCKED.append(what)
    raise PermissionError(f"fercomp sandbox: {what} is not allowed for submissions")
