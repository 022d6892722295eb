"""Forked measurers, from the trusted side: one measurer template per scoring process, one fork per hand-in.

A fresh measurer jail imports torch and the counters for every hand-in; the template (template.py, in a jail of its
own) imports them once and forks a measurer per exported program, which confines itself before it reads a byte
of one (template._confine: a uid of its own, no capabilities, non-dumpable, jail.POLICY stacked on its filter).
`ForkedMeasurer` is a JailedProcess like a fresh measurer: the same protocol, its own deadline, the same memory
watchdog over its host pid, a memory and pids cgroup of its own (jail.fork_cgroups), and its death mapped to the
same failure reasons from the wait status the template reports. Killing it kills that fork only.

`template_for` is the one place that decides: the template where each fork can have a uid of its own (a root
grader), the jail is on, the device is the CPU (CUDA cannot survive a fork) and libseccomp can stack the policy;
else the fresh measurer jail (runner.HandinJails), and the record's environment says which (`start_mode`).
A template that died is started again by the next hand-in.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time

from fercomp.submission import jail, seccomp_filter, watchdog
from fercomp.submission.runner import JailedProcess, Limits, WorkerFailure, _dies_with_us, _env, hard_memory_mb, interpreter
from fercomp.submission.staging import homes_root

#: Tests only: Python a fork runs after it has confined itself and the parent has set it up, where an exploit of
#: the artifact loader would land (tests/hostile/test_template.py). Set in the trusted parent's memory; nothing a
#: hand-in controls reaches it.
TEST_HOOK: str | None = None

FORK_UIDS = 1 << 16  # forks one template gives a uid of its own; the next hand-in then starts a new template
START_TIMEOUT_S = 300  # the template's imports (a fresh `import torch` and the counters) on a loaded machine
SPAWN_TIMEOUT_S = 60


class TemplateError(Exception):
    """The template did not start or stopped answering: the hand-in is measured in a fresh jail instead."""


class Fork:
    """A forked measurer as the parent sees it, shaped like the Popen of a fresh jail: `pid` (on the host, -1 if it
    died before it was found), `poll`, `wait`, and `returncode` in nsjail's convention (128 + signal)."""

    def __init__(self, inner_pid: int, host_pid: int, uid: int) -> None:
        self.inner_pid, self.pid, self.uid = inner_pid, host_pid, uid
        self.returncode: int | None = None
        self.why = ""
        self._done = threading.Event()
        self._pidfd = _pidfd(host_pid)

    def ended(self, status: int, why: str = "") -> None:
        """Its wait status, as the template reported it; `why`: it died with the template (a status of its own unknown)."""
        if why and self._pidfd is not None:
            # the template's socket closes before the kernel has killed its forks: wait for this one's death
            select.select([self._pidfd], [], [], 10)
        self.why = why
        self.returncode = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.waitstatus_to_exitcode(status)
        self._done.set()

    def release(self) -> None:
        """Close the pidfd (once the fork is dead and nothing will signal it)."""
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def poll(self) -> int | None:
        return self.returncode

    def wait_dead(self, timeout: float) -> None:
        """Until the process has died: its pidfd turns readable then, 0.1–0.3 s before the template's report (which
        comes once the template has reaped it). Without a pidfd, until that report."""
        if self._pidfd is not None and self.returncode is None:
            select.select([self._pidfd], [], [], timeout)
        elif not self._done.wait(timeout):
            raise subprocess.TimeoutExpired("measurer fork", timeout)

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired("measurer fork", timeout)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL through a pidfd: never another process that reused the pid."""
        pidfd = self._pidfd
        if pidfd is not None and self.returncode is None:
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid) if pid > 0 else None
    except OSError:
        return None


class Template:
    """One measurer template in its jail: started at construction (its imports go on while the caller works),
    forks on `spawn` once ready, ended by `close`. worker_forks.WorkerTemplate is one for workers."""

    NAME = "measurer template"

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.host_ids = jail.new_host_ids(FORK_UIDS + 1)
        self._next_uid = 1
        self._lock = threading.Lock()
        self._forks: dict[int, Fork] = {}
        self._spawned: dict[int, tuple[threading.Event, list]] = {}
        self._seq = 0
        self._log = tempfile.TemporaryFile(dir=homes_root())
        self._channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.alive = True
        self.failure = ""  # why it did not start
        self._ready = threading.Event()
        started = threading.Event()
        spec = self._spec(theirs.fileno())
        # Started from a thread that lives exactly as long as the template: nsjail dies with the thread that
        # started it (runner._dies_with_us), and a job's thread may end before the run does.
        threading.Thread(target=self._run, args=(jail.command(spec), theirs, started), daemon=True).start()
        started.wait()
        threading.Thread(target=self._read, daemon=True).start()

    def _spec(self, fd: int) -> jail.JailSpec:
        return jail.JailSpec(argv=(interpreter(), "-m", "fercomp.submission.template", str(fd)), home="",
                             env=tuple(_env(self.threads, "/").items()), pass_fds=(fd,), host_ids=self.host_ids,
                             forks=FORK_UIDS)

    def _failed(self) -> list[str]:
        """Where this process keeps why its templates of this kind could not start (later hand-ins go fresh)."""
        return _FAILED

    def wait_ready(self) -> None:
        """Block until the template has imported everything; TemplateError if it did not start."""
        self._ready.wait(START_TIMEOUT_S)
        if self.failure or not self._ready.is_set():
            raise TemplateError(self.failure or f"the {self.NAME} did not start within {START_TIMEOUT_S} s")

    def _run(self, argv: list[str], theirs: socket.socket, started: threading.Event) -> None:
        try:
            # umask 022: nsjail makes the folders its bind mounts hang from under the umask it runs with, and a
            # grading step under umask 077 (the final phase's) left them closed to every fork's uid but the template's
            self.proc = subprocess.Popen(_dies_with_us(argv), pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=self._log, start_new_session=True, umask=0o022,
                                         env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        except OSError as exc:
            self.failure, self.proc = f"nsjail did not start ({exc})", None
            return
        finally:
            theirs.close()
            started.set()
        self.proc.wait()
        self.alive = False

    def _read(self) -> None:
        """The template's reports: that it is ready, a fork's pid in the jail, a fork's wait status; EOF when the
        template died."""
        while True:
            try:
                message = self._channel.recv(1 << 16)
                report = json.loads(message) if message else None
            except (OSError, ValueError):
                report = None
            if not report:
                break
            if "ready" in report:
                self._ready.set()
            elif "forked" in report:
                waiting = self._spawned.pop(report["forked"], None)
                fork = Fork(report["pid"], _host_pid(self.proc.pid, report["pid"]), waiting[1][0] if waiting else 0)
                self._forks[report["pid"]] = fork
                if waiting:
                    waiting[1].append(fork)
                    waiting[0].set()
            elif "exited" in report and report["exited"] in self._forks:
                self._forks.pop(report["exited"]).ended(report["status"])
        self.alive = False
        if not self._ready.is_set():
            self.failure = self.failure or f"the {self.NAME} did not start: {self.log_tail()[-500:]}"
            self._failed().append(self.failure)
            self._ready.set()
        for fork in list(self._forks.values()):  # the kernel kills every fork with the template (their pid 1)
            fork.ended(signal.SIGKILL, f"the {self.NAME} it was forked from died")
        for event, _ in list(self._spawned.values()):
            event.set()

    def spawn(self, fds: list[int], cores: list[int] | None, extra: dict | None = None, before=None) -> Fork:
        """Fork a measurer that gets `fds` (command pipe, answer pipe, descriptor socket, log) and `cores`;
        `extra`: more of the request (a worker's); `before(host_uid)` runs before the request goes out."""
        self.wait_ready()
        with self._lock:
            if not self.alive or self._next_uid > FORK_UIDS:
                raise TemplateError(f"the {self.NAME} has ended")
            uid, self._next_uid, self._seq = self._next_uid, self._next_uid + 1, self._seq + 1
            event, result = threading.Event(), [self.host_ids[0] + uid]
            if before is not None:
                before(result[0])
            self._spawned[self._seq] = (event, result)
            request = {**(extra or {}), "seq": self._seq, "uid": uid, "cores": list(cores or []), "hook": TEST_HOOK}
            try:
                socket.send_fds(self._channel, [json.dumps(request).encode()], fds)
            except OSError as exc:
                raise TemplateError(f"the {self.NAME} stopped answering ({exc})") from None
        if not event.wait(SPAWN_TIMEOUT_S) or len(result) < 2:
            raise TemplateError(f"the {self.NAME} did not fork")
        return result[1]

    @property
    def exhausted(self) -> bool:
        return self._next_uid > FORK_UIDS

    def log_tail(self) -> str:
        self._log.flush()
        return os.pread(self._log.fileno(), 4000, max(os.fstat(self._log.fileno()).st_size - 4000, 0)).decode("utf-8", "replace")

    def close(self) -> None:
        """Kill the template's jail (and with it every fork still running)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # nsjail: its death signal kills the template, pid 1 of the forks
            self.proc.wait(timeout=5)
        except (AttributeError, ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
            pass
        self._channel.close()
        self._log.close()


def _host_pid(nsjail_pid: int, inner_pid: int, tries: int = 50) -> int:
    """The host pid of the template's child `inner_pid` (the last field of NSpid in /proc/<pid>/status)."""
    for _ in range(tries):
        for pid in watchdog.tree_pids(nsjail_pid):
            try:
                with open(f"/proc/{pid}/status") as fh:
                    nspid = next((line.split()[1:] for line in fh if line.startswith("NSpid:")), [])
            except OSError:
                continue
            if len(nspid) >= 2 and int(nspid[-1]) == inner_pid and int(nspid[0]) == pid:
                return pid
        time.sleep(0.01)
    return -1


class ForkedMeasurer(JailedProcess):
    """A measurer forked from the template: a JailedProcess with no home, its process a Fork."""

    def __init__(self, template: Template, limits: Limits, setup: dict, cores: list[int] | None) -> None:
        super().__init__("fercomp.submission.measurer", limits, setup, True, cores=cores, descriptors=True, home=False)
        self.template = template
        self._cgroups: list[str] = []

    def _launch(self, inherited: list[int]) -> Fork:
        fork = self.template.spawn([*inherited, self._log.fileno()], self.cores)
        self.host_ids = (fork.uid, fork.uid)  # the kernel's record of a seccomp kill names this uid (kernel_log)
        if fork.pid > 0 and fork.returncode is None:
            try:
                self._cgroups = jail.fork_cgroups(fork.pid, hard_memory_mb(self.limits.memory_limit_mb))
            except OSError as exc:  # not in a cgroup of its own, it must not measure: a fresh jail does instead
                fork.kill()
                raise TemplateError(f"a forked measurer could not be given its cgroup ({exc})") from None
        return fork

    def _ended(self, what: str) -> WorkerFailure:
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.why:
            return self._failure("crashed", self.proc.why)
        return super()._ended(what)

    def _kill(self) -> None:
        self.proc.kill()
        try:
            self.proc.wait_dead(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        super().close()
        self.proc.release()
        jail.remove_cgroups(self._cgroups)


_TEMPLATES: dict[int, Template] = {}  # by thread count (the template's environment sets it)
_REGISTRY = threading.Lock()
_FAILED: list[str] = []  # why a template could not start in this process: later hand-ins go fresh at once


#: Whether hand-ins' measurers may fork from a template (benchmarks/bench_cohort.py turns it off to compare).
ENABLED = True


def unusable(jailed: bool, gpu: bool) -> str | None:
    """Why a hand-in's measurer cannot be forked from a template here (None when it can)."""
    return why_unusable("measurer", ENABLED, _FAILED, jailed, gpu)


def why_unusable(kind: str, enabled: bool, failed: list[str], jailed: bool, gpu: bool, off: str = "") -> str | None:
    """Why a hand-in's `kind` (measurer, worker) cannot be forked from its template here, None when it can; `failed`
    holds why this process's template of that kind could not start, `off` why templates were turned off (when
    not `enabled`). Shared by both kinds of template."""
    if not enabled:
        return off or f"{kind} templates are turned off"
    if not jailed:
        return "no jail"
    if gpu:
        return f"a GPU {kind} starts fresh (CUDA does not survive a fork)"
    if not jail.own_ids():
        return "each fork needs a host uid of its own, which only a root grader can give"
    return seccomp_filter.available() or (failed[0] if failed else None)


def template_for(limits: Limits, jailed: bool, gpu: bool) -> Template | None:
    """This process's template for `limits` (started, or started again after it died: it may still be importing),
    or None: measure in a fresh jail."""
    if unusable(jailed, gpu):
        return None
    return registered(_TEMPLATES, Template, limits.threads)


def registered(templates: dict, kind: type[Template], threads: int) -> Template:
    """The live template of `templates` (a process's registry of one kind, by thread count) for `threads`, or a
    new one of `kind` in place of a dead or exhausted one. Shared by the measurer and worker templates."""
    with _REGISTRY:
        template = templates.get(threads)
        if template is not None and template.alive and not template.exhausted:
            return template
        if template is not None:
            template.close()
        template = templates[threads] = kind(threads)
        return template


def close_registered(templates: dict) -> None:
    """End every template of one registry (a scoring run's end; also at exit)."""
    with _REGISTRY:
        for template in templates.values():
            template.close()
        templates.clear()


@atexit.register
def close_all() -> None:
    """End every measurer template of this process."""
    close_registered(_TEMPLATES)
