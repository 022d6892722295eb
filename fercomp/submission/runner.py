"""The trusted side of a worker: start it confined, talk to it under limits, survive whatever it does.

Every way a worker can go wrong ends as a WorkerFailure with a stable `reason`: timeout,
memory_limit, crashed (a signal), exited, sandbox_violation, tampering, protocol_error, or the
contract reason the worker reported. The parent's own process is never at risk: it only reads
bounded frames from a pipe, never unpickles, and kills the worker's whole process group at the end.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fercomp import allocator
from fercomp.config import DEFAULT_MEMORY_MB, DEFAULT_TIME_S
from fercomp.submission import protocol, template
from fercomp.submission.staging import Handin, hideable, homes_root, stage, staged_weights

LOG_TAIL_BYTES = 2000
_FRAME_KEYS = {"ok", "blocked", "tampered", "nbytes"}
_SYSTEM_READABLE = [
    "/dev/null", "/dev/urandom", "/dev/random", "/dev/shm", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat",
    "/sys/devices/system/cpu", "/sys/fs/cgroup", "/etc/ld.so.cache", "/lib", "/lib64", "/usr/lib",
    "/usr/lib64", "/usr/local/lib", "/usr/share/zoneinfo", "/proc/driver/nvidia", "/dev/nvidiactl",
    "/dev/nvidia0", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
]


@dataclass(frozen=True)
class Limits:
    """Per-submission confinement: wall clock for the whole session, resident memory, sandbox mode."""

    time_limit_s: float = DEFAULT_TIME_S
    memory_limit_mb: int = DEFAULT_MEMORY_MB
    sandbox: str = "auto"  # auto: use namespaces where the OS allows; required: refuse to run without; off
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)


class WorkerFailure(Exception):
    """The submission failed in the worker; `reason` is recorded, `detail` explains, `log_tail` shows."""

    def __init__(self, reason: str, detail: str, log_tail: str = "", phase: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.log_tail, self.phase = reason, detail, log_tail, phase


def _library_paths() -> list[str]:
    """Where the worker imports fercomp and its dependencies from: fercomp's own root, then the parent's
    PYTHONPATH folders (a `pip install --target` tree, say); never the working directory."""
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.isabs(p) and os.path.isdir(p)]
    return list(dict.fromkeys([str(Path(__file__).resolve().parents[2]), *extra]))


def _readable_roots(private: list[str]) -> list[str]:
    """Libraries and system files; the worker's own home (with its staged hand-in) is added as writable.

    A PYTHONPATH folder that holds anything `private` (the team's folder, the data, the results) is left
    out: `PYTHONPATH=$PWD` in a course repository must not make every team's files readable.
    """
    package = Path(__file__).resolve().parents[1]
    extras = [p for p in _library_paths()[1:] if not any(_within(q, p) for q in private)]
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["purelib"], str(package), *extras}
    return sorted(roots) + _SYSTEM_READABLE


def _within(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _worker_env(home: str, threads: int) -> dict[str, str]:
    """A clean environment: nothing of the parent's that could name the data or the results."""
    # numpy's OpenBLAS would start a thread pool at import: one thread means a worker template stays
    # single-threaded (safe to fork) and a fresh worker computes exactly as a forked one does
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
           "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(_library_paths()),
           "FERCOMP_PARENT_PID": str(os.getpid()), **allocator.ENV}
    for key in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _widen_pipe(fd: int, size: int = 1 << 20) -> None:
    """Grow a pipe from 64 KiB to 1 MiB (Linux's unprivileged maximum): weights cross in far fewer hand-offs."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or a lower pipe-max-size: the default size works, a little slower


class ForkedProcess:
    """A worker forked by a template: what the runner needs of subprocess.Popen (pid, poll, wait), with the
    exit status coming from the template over a pipe (the template, not the runner, is its parent)."""

    def __init__(self, pid: int, status_fd: int) -> None:
        self.pid, self._fd, self.returncode = pid, status_fd, None
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        return self._collect(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._collect(timeout)
        if code is None:
            raise subprocess.TimeoutExpired("fercomp worker", timeout)
        return code

    def close(self) -> None:
        """Stop listening for the exit status (the template then drops it)."""
        with self._lock:
            if self.returncode is None:
                os.close(self._fd)
                self.returncode = -signal.SIGKILL

    def _collect(self, timeout: float | None) -> int | None:
        with self._lock:
            if self.returncode is None and select.select([self._fd], [], [], timeout)[0]:
                data = os.read(self._fd, template.STATUS.size)
                # no status: the template itself is gone, and its children were killed with it
                self.returncode = template.STATUS.unpack(data)[0] if len(data) == template.STATUS.size else -signal.SIGKILL
                os.close(self._fd)
            return self.returncode


class WorkerTemplate:
    """A worker template for a grading run (fercomp/submission/template.py), used as a context manager;
    `spawn` forks a fresh worker from it, or says why it cannot (the caller then starts one afresh)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._lock = threading.Lock()
        self._state: str | None = None  # None: not heard from yet; "ready"; or why it is unusable

    def __enter__(self) -> "WorkerTemplate":
        self._folder = tempfile.mkdtemp(prefix="template-", dir=homes_root())
        self._log = open(Path(self._folder) / "template.log", "wb")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fercomp.submission.template", str(theirs.fileno())], pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, env=_worker_env(self._folder, self.threads),
            cwd=self._folder, start_new_session=True)
        theirs.close()
        self._socket, self._replies = ours, ours.makefile("r", encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        self._socket.close()  # the template ends when its socket does; its children are killed with it
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def _reply(self) -> dict:
        line = self._replies.readline()
        if not line:
            raise OSError("the worker template ended")
        return json.loads(line)

    def spawn(self, env: dict, cwd: str, cmd_r: int, resp_w: int, log_fd: int) -> ForkedProcess | str:
        """A worker forked with these pipes, log, environment and folder; or why none could be."""
        with self._lock:
            try:
                if self._state is None:
                    hello = self._reply()
                    self._state = "ready" if hello.get("ready") else f"the template could not start ({hello.get('error')})"
                if self._state != "ready":
                    return self._state
                status_r, status_w = os.pipe()
                try:
                    socket.send_fds(self._socket, [json.dumps({"env": env, "cwd": cwd}).encode()], [cmd_r, resp_w, log_fd, status_w])
                finally:
                    os.close(status_w)
                answer = self._reply()
            except (OSError, ValueError) as exc:
                self._state = f"the template is unusable ({exc})"
                return self._state
        if "pid" not in answer:
            os.close(status_r)
            return f"the template refused to fork: {answer.get('error')}"
        return ForkedProcess(int(answer["pid"]), status_r)


class WorkerProcess:
    """One confined worker process for one submission. Use as a context manager.

    `submission_file` is the staged copy of the hand-in's .py, the name the worker imports it by. With a
    `template`, the worker is forked from it (start mode "template"), else started afresh ("fresh");
    `cores`, when given, pins it to those CPUs (its thread count is `limits.threads`).
    """

    def __init__(self, limits: Limits, device: str, protected: list[Path], handin: Handin,
                 template: WorkerTemplate | None = None, cores: list[int] | None = None) -> None:
        self.template, self.cores = template, list(cores) if cores else None
        self.limits, self.device = limits, device
        self.protected = [str(Path(p).resolve()) for p in protected]
        self.handin = handin
        self.layers: list[str] = []
        self.notes: list[str] = []
        self.peak_rss_mb = 0.0
        self.info: dict = {}
        self._memory_exceeded = False
        self._phase = "start"

    def __enter__(self) -> "WorkerProcess":
        self.home = tempfile.mkdtemp(prefix="worker-", dir=homes_root())
        self.submission_file = stage(self.handin, Path(self.home))
        self.weights_file = staged_weights(self.handin, Path(self.home))
        self.log_path = Path(self.home) / "worker.log"
        self._log = open(self.log_path, "wb")
        cmd_r, self._cmd_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        for fd in (cmd_r, self._resp_r):
            _widen_pipe(fd)
        self.deadline = time.monotonic() + self.limits.time_limit_s
        env = _worker_env(self.home, self.limits.threads)
        forked = self.template.spawn(env, self.home, cmd_r, resp_w, self._log.fileno()) if self.template else None
        self.start_mode = "template" if isinstance(forked, ForkedProcess) else "fresh"
        if isinstance(forked, ForkedProcess):
            self.proc = forked
        else:
            if forked:
                self.notes.append(f"started afresh: {forked}")
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fercomp.submission.worker", str(cmd_r), str(resp_w)],
                pass_fds=(cmd_r, resp_w), stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                env=env, cwd=self.home, start_new_session=True,
            )
        os.close(cmd_r)
        os.close(resp_w)
        self._watchdog = threading.Thread(target=self._watch_memory, daemon=True)
        self._watchdog.start()
        origin = str(self.handin.origin.resolve())
        readable = _readable_roots([origin, *self.protected])
        hidden = [str(homes_root())] + self.protected
        if hideable(self.handin.origin, readable):
            hidden.append(origin)
        else:
            self.notes.append(f"{self.handin.origin} holds fercomp's libraries, so only the audit hook keeps it from the worker")
        setup = {
            "sandbox": self.limits.sandbox, "protected": hidden, "keep": [self.home], "threads": self.limits.threads,
            "device": self.device, "readable": readable, "writable": [self.home], "cores": self.cores,
        }
        protocol.send(self._cmd_w, setup)
        self._ready = False
        return self

    def ready(self) -> dict:
        """Wait for the worker's sandbox and imports (started in __enter__, overlapping the caller's work)."""
        if not self._ready:
            header, _ = self._receive(max_payload=0)
            if not header.get("ok"):
                raise self._failure(str(header.get("reason", "exception")), str(header.get("detail", "")))
            self.layers, self.info = header.get("layers", []), header.get("info", {})
            self.notes += header.get("notes", [])
            self._ready = True
        return self.info

    def __exit__(self, *exc) -> None:
        # Killed, not asked to exit: nothing in the worker needs flushing, an interpreter holding torch
        # takes about a second to tear down, and the submission's atexit handlers never get to run. A
        # forked worker is reaped by its template: no need to wait for its teardown (~25 ms) here.
        self._kill(wait=not isinstance(self.proc, ForkedProcess))
        if isinstance(self.proc, ForkedProcess):
            self.proc.close()
        for fd in (self._cmd_w, self._resp_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def call(self, command: str, header: dict | None = None, payload: bytes = b"", max_payload: int = 1 << 30) -> tuple[dict, bytes]:
        """Send one command and return its answer, or raise WorkerFailure."""
        self.ready()
        self._phase = command
        self._send({"command": command, **(header or {})}, payload)
        answer, data = self._receive(max_payload)
        if answer.get("blocked"):
            raise self._failure("sandbox_violation", "the sandbox refused: " + "; ".join(answer["blocked"][:5]))
        if answer.get("tampered"):
            raise self._failure("tampering", "the submission replaced measuring code: " + ", ".join(answer["tampered"]))
        if not answer.get("ok"):
            raise self._failure(str(answer.get("reason", "exception")), str(answer.get("detail", "")), answer.get("traceback", ""))
        return {k: v for k, v in answer.items() if k not in _FRAME_KEYS}, data

    def _send(self, header: dict, payload: bytes) -> None:
        try:
            protocol.send(self._cmd_w, header, payload)
        except OSError as exc:
            raise self._ended(str(exc)) from None

    def _receive(self, max_payload: int) -> tuple[dict, bytes]:
        try:
            return protocol.receive(self._resp_r, self.deadline, max_payload)
        except protocol.Deadline:
            self._kill()
            if self._memory_exceeded:
                raise self._failure("memory_limit", f"resident memory passed {self.limits.memory_limit_mb} MB") from None
            raise self._failure("timeout", f"no answer within the {self.limits.time_limit_s:g} s limit") from None
        except (protocol.ProtocolError, BrokenPipeError, OSError) as exc:
            raise self._ended(str(exc)) from None

    def _ended(self, what: str) -> WorkerFailure:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill()
            return self._failure("protocol_error", f"the worker broke the protocol ({what})")
        if self._memory_exceeded:
            return self._failure("memory_limit", f"resident memory passed {self.limits.memory_limit_mb} MB")
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            return self._failure("crashed", f"the worker died of {name}")
        if code == 0 and self._phase == "start":
            return self._failure("exited", "the worker exited before it was ready")
        return self._failure("exited", f"the worker exited with code {code}" if code else f"the worker ended the session ({what})")

    def _failure(self, reason: str, detail: str, traceback: str = "") -> WorkerFailure:
        tail = self.log_tail()
        if traceback:
            tail = (tail + "\n" + str(traceback))[-LOG_TAIL_BYTES:]
        return WorkerFailure(reason, detail, tail, self._phase)

    def log_tail(self) -> str:
        try:
            self._log.flush()
            with open(self.log_path, "rb") as fh:
                fh.seek(max(self.log_path.stat().st_size - LOG_TAIL_BYTES, 0))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _kill(self, wait: bool = True) -> None:
        # The whole group, whatever the worker started (Linux reuses no pid still naming a group); then the
        # worker itself, should it not lead its group yet, but only while it runs: an ended pid may be reused.
        kills = [os.killpg] + ([os.kill] if self.proc.poll() is None else [])
        for kill in kills:
            try:
                kill(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            if wait:
                self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def _watch_memory(self) -> None:
        status = Path(f"/proc/{self.proc.pid}/status")
        while self.proc.poll() is None:
            try:
                rss_kb = next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmRSS:"))
            except (OSError, StopIteration, ValueError):
                return
            self.peak_rss_mb = max(self.peak_rss_mb, rss_kb / 1024)
            if rss_kb / 1024 > self.limits.memory_limit_mb:
                self._memory_exceeded = True
                self._kill()
                return
            time.sleep(0.02)
