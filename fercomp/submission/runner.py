"""The trusted side of the two jailed rooms: start them, talk to them under limits, survive whatever they do.

A hand-in meets two processes, each in a jail (jail.py) of its own:
- the **worker** (worker.py), the only one that runs submitted code: build, load the weights, export. It is
  forked from the run's worker template where one can run (worker_forks.py: the fork makes itself a jail as
  strong as a fresh one before it reads the hand-in), else started in a fresh nsjail of its own;
- the **measurer** (measurer.py), which never imports a submitted file: it loads the exported graph and
  measures everything a mark depends on. It is forked from the run's measurer template where one can run
  (forks.py: its own uid, POLICY stacked on itself), else started in a fresh nsjail of its own.
`HandinJails` holds both for one hand-in. Every way either can go wrong ends as a WorkerFailure with a stable
`reason`: timeout, memory_limit, disk_limit, artifact_too_large (the export passed the worker's file-size limit),
crashed (a signal), exited, sandbox_violation (a system call the jail's seccomp policy forbids, or a refusal of the
audit hook), protocol_error, or the contract reason reported.
The parent only reads bounded frames from pipes, never unpickles, and kills each jail whole at the end.

`sandbox = "off"` (or `auto` where nsjail cannot run) starts both as plain processes: the record says so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fercomp import allocator
from fercomp.config import DEFAULT_MEMORY_MB, DEFAULT_TIME_S
from fercomp.errors import UsageError
from fercomp.submission import jail, kernel_log, protocol, watchdog
from fercomp.submission.staging import Handin, homes_root, new_home, stage, staged_weights

LOG_TAIL_BYTES = 2000
_FRAME_KEYS = {"ok", "blocked", "nbytes"}


@dataclass(frozen=True)
class Limits:
    """Per-process confinement: wall clock, resident memory, sandbox mode, threads."""

    time_limit_s: float = DEFAULT_TIME_S
    memory_limit_mb: int = DEFAULT_MEMORY_MB
    disk_limit_mb: int = 4096  # what a jail may keep in its home (a host folder): staged hand-in, export, scratch
    # the largest exported program: the worker's file-size limit never passes it (see file_size_limit_mb)
    artifact_limit_mb: int = 4096
    sandbox: str = "auto"  # auto: the jail where it can run, else plain processes (recorded); required; off
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    # the most a hand-in may queue for the shared latency lock (--jobs N, latency serial) without the wait counting
    # against time_limit_s: a queue is the grading run's doing, not the hand-in's
    queue_allowance_s: float = 0


class WorkerFailure(Exception):
    """The submission failed in a jailed process; `reason` is recorded, `detail` explains, `log_tail` shows."""

    def __init__(self, reason: str, detail: str, log_tail: str = "", phase: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.log_tail, self.phase = reason, detail, log_tail, phase


def use_jail(mode: str) -> tuple[bool, str | None]:
    """(whether to jail, why not); `required` without a usable nsjail is the user's problem: one line."""
    if mode == "off":
        return False, "sandbox = off"
    why = jail.unavailable()
    if why and mode == "required":
        raise UsageError(f"sandbox = required, but {why}")
    return why is None, why


def hard_memory_mb(limit_mb: int) -> int:
    """The jail's kernel limit: above the watchdog's, so the watchdog normally stops a hand-in first with a named
    reason, and the kernel stops what the watchdog's polling cannot see (an allocation faster than a poll)."""
    return int(limit_mb * 1.25) + 256


#: The worker's file-size limit is never below this (it was the fixed limit; the measurer keeps it).
FILE_SIZE_FLOOR_MB = 512


def file_size_limit_mb(weights_bytes: int | None, artifact_limit_mb: int) -> int:
    """The worker's file-size limit (RLIMIT_FSIZE): the exported program holds the weights once, so twice the
    weights file and 256 MB for the graph, at least FILE_SIZE_FLOOR_MB and at most the artifact limit. Without a
    weights file (random init, or nothing to train) the code makes the parameters and their size is unknown
    until it runs: the artifact limit."""
    if weights_bytes is None:
        return artifact_limit_mb
    return min(artifact_limit_mb, max(FILE_SIZE_FLOOR_MB, 2 * (weights_bytes >> 20) + 256))


#: OpenMP threads that wait for the next parallel region sleep instead of spinning. A spinning thread burns the
#: core its sibling needs: on the loaded 2-core machine (load average 11-14) a MaxViT-T batch-1 forward took
#: 7-19 s with 2 spinning threads and 1.2 s with 2 passive ones (1 s on one thread), the baseline CNN's batch-1
#: query 410-520 ms against 55-70 ms, which left `check` on MaxViT no answer in 300 s. Passive waiting costs a
#: wake-up per region (microseconds); batch-128 throughput was unchanged (benchmarks/bench_families.py, docs).
THREAD_WAIT_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def _env(threads: int, home: str) -> dict[str, str]:
    """A clean environment: nothing of the parent's that could name the data or the results."""
    # numpy's OpenBLAS would start a thread pool at import that torch does not need
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
           "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": jail.import_path(), **allocator.ENV,
           **THREAD_WAIT_ENV}
    for key in ("CUDA_VISIBLE_DEVICES",):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


class JailedProcess:
    """One process (`module`'s serve loop) in a fresh jail, with a home folder of its own on the host."""

    def __init__(self, module: str, limits: Limits, setup: dict, jailed: bool, gpu: bool = False,
                 private: list[str] = (), reasons: frozenset[str] | None = None, cores: list[int] | None = None,
                 file_size_mb: int = FILE_SIZE_FLOOR_MB, descriptors: bool = False, home: bool = True) -> None:
        self.module, self.limits, self.setup, self.jailed, self.gpu = module, limits, setup, jailed, gpu
        self.file_size_mb = file_size_mb  # the jail's RLIMIT_FSIZE: any one file it writes
        self.cores = cores  # the only CPUs it may run on (a parallel job's share), or None: any
        self.reasons = reasons  # the failure reasons it may report; None: any (it runs no submitted code)
        self.private = list(private)
        self.descriptors = descriptors  # whether it gets a socket for read-only descriptors (the measurer's artifact)
        self.peak_rss_mb = 0.0
        self.info: dict = {}
        self.phase = "start"
        self._exceeded = ""  # which limit the watchdog killed the process for: memory_limit or disk_limit
        self._disk_excess = ""  # and, for disk_limit, which of the home's limits (home_excess)
        self._ready = False
        self._granted = 0.0  # seconds of queueing given back so far (queued)
        self.home = str(new_home(module.rsplit(".", 1)[-1])) if home else ""  # "": nothing writable (a forked measurer)
        self.host_ids = jail.new_host_ids()

    def start(self) -> "JailedProcess":
        # The log lives outside the home: the jail can replace anything in its home (a link to a host file
        # that the parent, as root, would read back into the record), but not this unlinked file.
        self._log = tempfile.TemporaryFile(dir=homes_root())
        cmd_r, self._cmd_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        for fd in (cmd_r, self._resp_r):
            _widen_pipe(fd)
        inherited = [cmd_r, resp_w]
        if self.descriptors:
            self._descriptors, theirs = socket.socketpair()
            inherited.append(theirs.detach())
        self.started = time.monotonic()
        self.deadline = self.started + self.limits.time_limit_s
        try:
            self.proc = self._launch(inherited)
        except BaseException:
            for fd in (self._cmd_w, self._resp_r):
                os.close(fd)
            self._log.close()
            raise
        finally:
            for fd in inherited:
                os.close(fd)
        threading.Thread(target=self._watch_memory, daemon=True).start()
        protocol.send(self._cmd_w, {**self.setup, "threads": self.limits.threads, "jailed": self.jailed})
        return self

    def _launch(self, inherited: list[int]):
        """Start the process with `inherited` descriptors (their numbers are its arguments); a Popen."""
        inside_home = jail.HOME if self.jailed else self.home
        env = _env(self.limits.threads, inside_home)
        argv = [interpreter(), "-m", self.module, *map(str, inherited)]
        if self.jailed:
            jail.prepare_home(Path(self.home), self.host_ids)
            # nsjail's own clock is a backstop behind the parent's deadline: 5 s later, queueing allowed for
            jail_clock = self.limits.time_limit_s + self.limits.queue_allowance_s + 5
            spec = jail.JailSpec(argv=tuple(argv), home=self.home, env=tuple(env.items()), pass_fds=tuple(inherited),
                                 time_limit_s=jail_clock, file_size_mb=self.file_size_mb, gpu=self.gpu, private=tuple(self.private),
                                 memory_mb=hard_memory_mb(self.limits.memory_limit_mb), host_ids=self.host_ids)
            argv, env, cwd = _dies_with_us(jail.command(spec)), {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, self.home
        else:
            cwd = self.home
        with _pinned(self.cores):
            return subprocess.Popen(argv, pass_fds=inherited, stdin=subprocess.DEVNULL, stdout=self._log,
                                    stderr=self._log, env=env, cwd=cwd, start_new_session=True)

    def send_descriptor(self, fd: int) -> None:
        """Pass a descriptor (SCM_RIGHTS) on the process's descriptor socket: the measurer's exported program."""
        try:
            socket.send_fds(self._descriptors, [b"\0"], [fd])
        except OSError as exc:
            raise self._ended(str(exc)) from None

    def ready(self) -> dict:
        """Wait for the process's imports (started in `start`, overlapping the caller's work)."""
        if not self._ready:
            header, _ = self._receive(max_payload=0)
            if not header.get("ok"):
                raise self._reported(header)
            self.info = header.get("info", {})
            self._ready = True
        return self.info

    def queued(self, seconds: float) -> None:
        """Give back time spent queueing for the shared latency lock (up to the limits' allowance)."""
        granted = min(seconds, self.limits.queue_allowance_s - self._granted)
        if granted > 0:
            self._granted += granted
            self.deadline += granted

    def close(self) -> None:
        # Killed, not asked to exit: nothing inside needs flushing, and a hand-in's atexit handlers never run.
        # Killing nsjail kills its PID namespace, and with it everything the process started.
        self._kill()
        for fd in (self._cmd_w, self._resp_r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.descriptors:
            self._descriptors.close()
        self._log.close()
        if self.home:
            shutil.rmtree(self.home, ignore_errors=True)

    def call(self, command: str, header: dict | None = None, payload: bytes = b"", max_payload: int = 1 << 30) -> tuple[dict, bytes]:
        """Send one command and return its answer, or raise WorkerFailure."""
        self.ready()
        self.phase = command
        try:
            protocol.send(self._cmd_w, {"command": command, **(header or {})}, payload)
        except OSError as exc:
            raise self._ended(str(exc)) from None
        answer, data = self._receive(max_payload)
        if answer.get("blocked") or not answer.get("ok"):
            raise self._reported(answer)
        return {k: v for k, v in answer.items() if k not in _FRAME_KEYS}, data

    def _reported(self, answer: dict) -> WorkerFailure:
        """The failure an answer reports. Submitted code holds the worker's answer pipe and can write any frame:
        a field of the wrong type (which raised in this process and stopped the grading run) or a reason the
        process may not give is a protocol_error, never taken at its word."""
        blocked, reason = answer.get("blocked") or [], answer.get("reason", "exception")
        detail, traceback = answer.get("detail", ""), answer.get("traceback", "")
        if not (isinstance(blocked, list) and all(isinstance(v, str) for v in [*blocked, reason, detail, traceback])):
            return self._failure("protocol_error", "the process answered with a malformed frame")
        if blocked:
            return self._failure("sandbox_violation", "the sandbox refused: " + "; ".join(blocked[:5]))
        if self.reasons is not None and reason not in self.reasons:
            return self._failure("protocol_error", f"the process reported a failure it cannot have ({reason[:60]!r}): "
                                 "a forged answer")
        return self._failure(reason, detail, traceback)

    def _receive(self, max_payload: int) -> tuple[dict, bytes]:
        try:
            return protocol.receive(self._resp_r, self.deadline, max_payload)
        except protocol.Deadline:
            self._kill()
            if self._exceeded:
                raise self._watchdog_failure() from None
            raise self._failure("timeout", f"no answer within the {self.limits.time_limit_s:g} s limit") from None
        except (protocol.ProtocolError, OSError) as exc:
            raise self._ended(str(exc)) from None

    def _ended(self, what: str) -> WorkerFailure:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill()
            return self._failure("protocol_error", f"the process broke the protocol ({what})")
        if self._exceeded:
            return self._watchdog_failure()
        signo = -code if code < 0 else code - 128 if self.jailed and code > 128 else 0
        if signo == signal.SIGSYS:
            return self._failure("sandbox_violation", self._seccomp_detail())
        if signo == signal.SIGXFSZ or (signo and self.phase == "export" and self._file_at_limit()):
            return self._file_too_large()
        if signo == signal.SIGKILL and self.jailed and jail.cgroups():
            return self._failure("memory_limit", "the process was killed (SIGKILL), which in a jail is the kernel's hard "
                                 f"memory limit of {hard_memory_mb(self.limits.memory_limit_mb)} MB (the limit is "
                                 f"{self.limits.memory_limit_mb} MB), unless the hand-in killed itself")
        if signo in signal.Signals._value2member_map_:
            return self._failure("crashed", f"the process died of {signal.Signals(signo).name}")
        if code == 0 and self.phase == "start":
            return self._failure("exited", "the process exited before it was ready")
        return self._failure("exited", f"the process exited with code {code}" if code else f"the process ended the session ({what})")

    def _file_at_limit(self, scanned: int = 1000) -> bool:
        """Whether a file in the home's top level (where the export writes its artifact) has reached the file-size
        limit. The write that reaches the limit is cut short without a signal, and torch's archive writer then
        aborts or crashes on its own check before it writes again: the death is the limit's all the same."""
        limit = self.file_size_mb << 20
        try:
            with os.scandir(self.home) as entries:
                return any(entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_size >= limit
                           for _, entry in zip(range(scanned), entries))
        except OSError:
            return False

    def _file_too_large(self) -> WorkerFailure:
        """A write passed the jail's file-size limit: named for what was written (the worker restores SIGXFSZ's
        default, which Python ignores)."""
        if self.phase == "export":
            return self._failure("artifact_too_large", f"the exported program passed the worker's file-size limit of "
                                 f"{self.file_size_mb} MB (twice the weights file and 256 MB, at least "
                                 f"{FILE_SIZE_FLOOR_MB} MB, at most the artifact limit of {self.limits.artifact_limit_mb} MB)")
        return self._failure("disk_limit", f"a file passed the jail's file-size limit of {self.file_size_mb} MB")

    def _seccomp_detail(self) -> str:
        """Which forbidden call killed the process, from the kernel's record of it (kernel_log.py)."""
        own_uid = self.host_ids[0] != os.geteuid()
        kill = kernel_log.find_kill(self.host_ids[0], self.started - 1) if own_uid else None
        if kill:
            return f"the jail's seccomp policy killed the process for the system call {kill.syscall} (the kernel's record)"
        why = ("the kernel log, which names it, is root's to read" if not own_uid or not kernel_log.readable() else
               "the kernel logged no record of it (an audit daemon takes the records, or the printk rate limit dropped one)")
        return (f"the jail's seccomp policy killed the process for a forbidden system call (one of "
                f"{', '.join(jail.DENIED_SYSCALLS[:8])}, …, a non-AF_UNIX socket, a new process); which one is not "
                f"known: {why}")

    def _failure(self, reason: str, detail: str, traceback: str = "") -> WorkerFailure:
        tail = self.log_tail()
        if traceback:
            tail = (tail + "\n" + str(traceback))[-LOG_TAIL_BYTES:]
        return WorkerFailure(reason, detail, tail, self.phase)

    def log_tail(self) -> str:
        try:
            self._log.flush()
            size = os.fstat(self._log.fileno()).st_size
            return os.pread(self._log.fileno(), LOG_TAIL_BYTES, max(size - LOG_TAIL_BYTES, 0)).decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def _kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def _watchdog_failure(self) -> WorkerFailure:
        if self._exceeded == "disk_limit":
            return self._failure("disk_limit", self._disk_excess)
        return self._failure("memory_limit", f"resident memory passed {self.limits.memory_limit_mb} MB")

    def _jail_pids(self) -> list[int]:
        """The host pids whose memory counts against the limit: the jail's processes (nsjail and below)."""
        return watchdog.tree_pids(self.proc.pid)

    def _watch_memory(self) -> None:
        """Resident memory of the jail's processes every 20 ms; the home's size on disk every 0.5 s (a hand-in
        that writes file after file, each under the file-size rlimit, would otherwise fill the host's disk)."""
        ticks = 0
        while self.proc.poll() is None:
            pids = self._jail_pids()
            rss_mb = watchdog.tree_rss_mb(pids)
            self.peak_rss_mb = max(self.peak_rss_mb, rss_mb)
            if rss_mb > self.limits.memory_limit_mb:
                self._exceeded = "memory_limit"
            elif self.home and ticks % 25 == 0:
                self._disk_excess = watchdog.home_excess(self.home, self.limits.disk_limit_mb, pids)
                self._exceeded = "disk_limit" if self._disk_excess else ""
            if self._exceeded:
                self._kill()
                return
            ticks += 1
            time.sleep(0.02)


def interpreter() -> str:
    """This interpreter by a path the jail can exec: normalised (a `benchmarks/../.venv/bin/python` names a
    folder the jail does not have), but not resolved (the venv's python is a link that finds the venv)."""
    return os.path.normpath(os.path.abspath(sys.executable))


@contextlib.contextmanager
def _pinned(cores: list[int] | None):
    """Start a process on `cores` only. It inherits the CPU mask of the thread that starts it (this one, for that
    moment), and the jail's policy refuses sched_setaffinity: a worker that pinned itself from inside could move
    back to every core, and spun on another job's while that job's latency was timed."""
    if not cores:
        yield
        return
    saved = os.sched_getaffinity(0)  # pid 0: this thread only, not the grading run's other jobs
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


def _dies_with_us(argv: list[str]) -> list[str]:
    """nsjail under `setpriv --pdeathsig KILL` (util-linux): killed with the thread that started it, so a grading
    run that is killed leaves no jail behind (nsjail's own death kills everything in its PID namespace)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *argv] if setpriv else argv


def _widen_pipe(fd: int, size: int = 1 << 20) -> None:
    """Grow a pipe from 64 KiB to 1 MiB (Linux's unprivileged maximum): batches cross in fewer hand-offs."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError):
        pass


class HandinJails:
    """The worker and the measurer of one hand-in. Use as a context manager.

    A fresh measurer jail starts at once (its imports overlap the parent's data loading); a forked one
    (forks.py) on first use, from the run's template, whose imports overlap the same work the first time. The
    worker starts only when its exported program is not cached already (see session.load). `cores`, when given, pins both to those CPUs:
    the measurer, whose timings count, and the worker, which would otherwise compute on another job's.
    """

    def __init__(self, limits: Limits, device: str, handin: Handin, cores: list[int] | None = None,
                 protected: list[str] = ()) -> None:
        self.limits, self.device, self.handin = limits, device, handin
        self.private = [str(handin.origin), *protected]
        self.cores = list(cores) if cores else None
        self.jailed, why = use_jail(limits.sandbox)
        self.notes = [] if self.jailed else [f"no jail: {why}"]
        self.layers = ["nsjail", "seccomp"] if self.jailed else []
        self.sandbox = {"kind": "nsjail" if self.jailed else "none", "policy_sha256": jail.POLICY_SHA256 if self.jailed else None,
                        "cgroups": (jail.cgroups() or "none") if self.jailed else None,
                        "uid": jail.jail_ids()[0] if self.jailed else os.geteuid(), "why_not": why if not self.jailed else None}
        self._worker: JailedProcess | None = None
        self.start_mode = "jail" if self.jailed else "plain"
        # the worker's: forked, jail or plain; cached while none ran (its export was cached); and, for a fresh
        # jail, why it was not forked
        self.worker_start_mode, self.worker_fresh_because = "cached", None

    def __enter__(self) -> "HandinJails":
        from fercomp.submission import forks  # it builds on JailedProcess

        self._gpu = self.device.startswith("cuda") or (self.device == "auto" and Path("/dev/nvidiactl").exists())
        self._measurer: JailedProcess | None = None
        # the run's template (still importing, the first time: it overlaps the parent's work and the worker's
        # start), else a fresh measurer jail now
        self._template = forks.template_for(self.limits, self.jailed, self._gpu)
        self.start_mode = "forked" if self._template else self.start_mode  # the worker is a fresh jail either way
        if self._template is None:
            self._measurer = self._fresh_measurer()
        return self

    def _fresh_measurer(self) -> JailedProcess:
        return JailedProcess("fercomp.submission.measurer", self.limits, {"device": self.device}, self.jailed, gpu=self._gpu,
                             private=self.private, cores=self.cores, descriptors=True).start()

    @property
    def measurer(self) -> JailedProcess:
        """The measurer: forked from the run's template on first use, or the fresh jail started on entry (also when
        the template could not start)."""
        if self._measurer is None:
            from fercomp.submission import forks

            try:
                self._measurer = forks.ForkedMeasurer(self._template, self.limits, {"device": self.device}, self.cores).start()
            except forks.TemplateError:  # it did not start, or died between the check and the fork
                self.start_mode = "jail"
                self._measurer = self._fresh_measurer()
        return self._measurer

    def __exit__(self, *exc) -> None:
        self.close_worker()
        if self._measurer is not None:
            self._measurer.close()

    def worker(self) -> JailedProcess:
        """The worker, started (with the staged hand-in in its home) on first use: forked from the run's worker
        template where one can run (worker_forks.py), else in a fresh jail."""
        if self._worker is None:
            from fercomp.submission import worker_forks  # it builds on JailedProcess

            weights = self.handin.weights
            fsize = file_size_limit_mb(os.stat(weights).st_size if weights else None, self.limits.artifact_limit_mb)
            # the worker exports on the CPU whatever the measurer's device: CUDA never enters its fork
            template = worker_forks.template_for(self.limits, self.jailed, gpu=False)
            self.worker_start_mode = "forked" if template else "jail" if self.jailed else "plain"
            if template is None and self.jailed:
                self.worker_fresh_because = worker_forks.unusable(self.jailed, False)
            if template is not None:
                try:
                    forked = worker_forks.ForkedWorker(template, self.limits, self.private, self.cores, fsize)
                    self._worker = self._staged(forked).start()
                    self._worker.ready()  # nothing of the hand-in has run yet: a fork that failed here goes fresh
                    return self._worker
                except worker_forks.forks.TemplateError as exc:
                    if self._worker is not None:
                        self._worker.close()
                        self._worker = None
                    self.worker_start_mode = "jail"
                    self.worker_fresh_because = str(exc)
            fresh = JailedProcess("fercomp.submission.worker", self.limits, {}, self.jailed, private=self.private,
                                  reasons=protocol.WORKER_REASONS, cores=self.cores, file_size_mb=fsize)
            self._worker = self._staged(fresh).start()
        return self._worker

    def _staged(self, process: JailedProcess) -> JailedProcess:
        """`process` with the hand-in staged in its home and the setup that names it."""
        home = Path(process.home)
        self.submission_file = stage(self.handin, home)
        weights = staged_weights(self.handin, home)
        inside = Path(jail.HOME) if self.jailed else home
        self.inside_submission = str(inside / self.submission_file.relative_to(home))
        self.inside_weights = str(inside / weights.relative_to(home)) if weights else None
        readable = [*jail.library_roots(), *jail.SYSTEM_READ_ONLY, "/dev/null", "/dev/urandom", "/dev/random",
                    "/proc/self", "/proc/cpuinfo", "/proc/meminfo"]
        process.setup = {"readable": readable, "writable": [str(inside)], "audit_hook": self.limits.sandbox != "off"}
        return process

    def close_worker(self) -> None:
        """End the worker (its export is done): the measuring runs without it."""
        if self._worker is not None:
            self.peak_rss_worker_mb = self._worker.peak_rss_mb
            self._worker.close()
            self._worker = None

    @property
    def worker_running(self) -> bool:
        return self._worker is not None

    @property
    def info(self) -> dict:
        return self._measurer.info if self._measurer else {}

    @property
    def peak_rss_mb(self) -> float:
        return max(self._measurer.peak_rss_mb if self._measurer else 0.0, getattr(self, "peak_rss_worker_mb", 0.0),
                   self._worker.peak_rss_mb if self._worker else 0.0)

    def ready(self) -> dict:
        return self.measurer.ready()

    def log_tail(self) -> str:
        process = self._worker or self._measurer
        return process.log_tail() if process else ""
