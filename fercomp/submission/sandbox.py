"""The worker's second layer, inside the jail: a PEP 578 audit hook. Stdlib only.

The jail (jail.py) is the boundary; code that calls libc through ctypes passes this hook untouched and
meets the jail. The hook is here for the message: it refuses the commonest attempts (a file outside the
libraries and the home, a socket, a subprocess, fork/exec, a signal) by name, so the record says
`sandbox_violation: read /data/fer2013.csv` instead of a bare FileNotFoundError.
"""

from __future__ import annotations

import os
import sys

#: What each refused audit event is called in a failure reason.
BLOCKED: list[str] = []


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


def libraries_found_without_processes() -> None:
    """Make ctypes.util.find_library answer without starting ldconfig, gcc or ld. In a jail none of them exists,
    so it answered None after a vfork that the jail's seccomp policy now kills (torch's import asks it for libdl).
    Not a defence: it keeps fercomp's own imports clear of the policy, which is the defence."""
    import ctypes.util

    ctypes.util.find_library = lambda name: None
