"""A forked worker's jail of its own, made by the fork itself inside the worker template's jail. Stdlib only.

nsjail makes a fresh worker jail from the host; a fork of the worker template (worker_template.py) makes the same
from inside the template's jail, before it reads a byte of a hand-in, with the kernel's own calls (the template's
policy, jail.WORKER_TEMPLATE_POLICY, allows them; the policy each fork stacks afterwards, jail.POLICY, does not):
- `own_namespaces`: a uid of its own from the template's range, then a user namespace of its own that maps only
  that uid (as nobody, like a fresh jail's), and new mount, PID, network (loopback only), IPC, UTS and cgroup
  namespaces owned by it;
- `fresh_root` (in the process that is the first of that PID namespace): a new size-limited tmpfs as its root,
  holding read-only binds of exactly the paths a fresh worker jail binds, its own home (a host folder that only
  its uid owns) read-write, private /tmp and /dev/shm, its own read-only /proc; pivot_root into it, the
  template's root detached, the root read-only;
- `drop_privileges`: every capability (the bounding and ambient sets too) and no_new_privs.
A step that fails raises: the fork ends before the hand-in is read, and the trusted side scores it in a fresh jail.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x02000000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 4, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SYS_PIVOT_ROOT, SYS_CAPSET = 155, 126  # x86-64
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

#: The worker template's jail mounts an empty read-only tmpfs here: the one folder each fork mounts its root on.
MOUNT_POINT = "/forkroot"
NOBODY = 65534  # the uid inside, as in a fresh jail (jail.NOBODY)
TMPFS_SIZE = "size=4194304"  # the root, /tmp and /dev/shm: nsjail's default size for a tmpfs, a fresh jail's

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class ConfineError(OSError):
    """A step of the fork's confinement failed (the kernel refused a nested namespace, a mount, …)."""


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise ConfineError(errno, f"{what}: {os.strerror(errno)}")


def prctl(option: int, arg: int = 0) -> None:
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl({option})")


def own_namespaces(uid: int) -> None:
    """Become `uid` of the template's range (every capability in the template's namespace is lost with uid 0),
    then the only user of a user namespace of its own, and unshare the rest (the PID namespace is its children's)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    # a change of uid made it non-dumpable, which hands its /proc files (the id maps) to root: take them back
    prctl(PR_SET_DUMPABLE, 1)
    _check(_libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{NOBODY} {uid} 1")
    _write("/proc/self/gid_map", f"{NOBODY} {uid} 1")
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP),
           "unshare(the mount, PID, network, IPC, UTS and cgroup namespaces)")
    prctl(PR_SET_DUMPABLE, 0)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                       data and data.encode()), f"mount {source or ''} on {target}")


def _bind(source: str, target: str, writable: bool) -> None:
    """Bind `source` at `target` (in the new root); read-only unless `writable`. The flags the template's mount
    already has (nosuid, nodev, noexec) stay: in a user namespace the kernel refuses a remount that drops them."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount(source, target, None, MS_BIND | MS_REC)
    kept = os.statvfs(target).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | kept | (0 if writable else MS_RDONLY))


def fresh_root(read_only: list[str], writable: list[str], home: str, inside_home: str) -> None:
    """Pivot into a new root that holds `read_only` and `writable` (template paths, bound at the same paths), the
    host folder `home` read-write at `inside_home`, private /tmp and /dev/shm and a read-only /proc of this PID
    namespace; the template's root is detached, and the new root made read-only."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here reaches the template, nor back
    root = MOUNT_POINT
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, f"{TMPFS_SIZE},mode=755")
    # the private /tmp and /dev/shm first, as nsjail mounts a fresh jail's: a library root below /tmp (a checkout or
    # a venv in /tmp, as CI clones) is then bound on top of it, not hidden under it
    for folder in ("/tmp", "/dev/shm"):
        os.makedirs(root + folder, exist_ok=True)
        _mount("tmpfs", root + folder, "tmpfs", MS_NOSUID | MS_NODEV, f"{TMPFS_SIZE},mode=1777")
    for path in read_only:
        if os.path.exists(path):
            _bind(path, root + path, writable=False)
    for path in writable:
        if os.path.exists(path):
            _bind(path, root + path, writable=True)
    _bind(home, root + inside_home, writable=True)
    os.makedirs(root + "/proc", exist_ok=True)
    # mounted while the template's /proc is still in view: the kernel lets a user namespace mount a proc only
    # where one is already fully visible
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)
    old = root + "/.old"
    os.mkdir(old)
    _check(_libc.syscall(SYS_PIVOT_ROOT, root.encode(), old.encode()), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old", MNT_DETACH), "umount the template's root")
    os.rmdir("/.old")
    _mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(inside_home)


def drop_privileges() -> None:
    """No capability left, none to regain: the bounding and ambient sets emptied, then every set, no_new_privs."""
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for cap in range(last + 1):
        prctl(PR_CAPBSET_DROP, cap)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.syscall(SYS_CAPSET, header, data), "capset")
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    with open("/proc/self/status") as fh:
        fields = dict(line.split(":", 1) for line in fh if ":" in line)
    if any(int(fields[name].strip(), 16) for name in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb")):
        raise ConfineError(1, "the fork still holds a capability")
