"""Forked workers, from the trusted side: one worker template per scoring process and thread count, one fork per
hand-in that needs an export.

A fresh worker jail imports torch and its exporter for every hand-in; the worker template (worker_template.py, in a
jail of its own) imports them once and forks a worker per hand-in, which makes itself a jail as strong as a fresh
one before it reads a byte of the hand-in (fresh_root.py: its own uid, user, mount, PID, network, IPC and UTS
namespaces, a fresh root with its own home, no capabilities, jail.POLICY stacked on its filter). `ForkedWorker` is
a JailedProcess like a fresh worker: the same protocol, its home on the host (staged by the trusted side, owned
by the fork's uid alone, under the same disk watchdog), its own deadline, the memory watchdog over its host pid, a
memory and pids cgroup of its own, its file-size limit, and its death mapped to the same failure reasons.

`template_for` decides: the template where a measurer template could run (forks.unusable: a root grader, the jail
on, the CPU, libseccomp) and the kernel lets a fork make its namespaces (found out by the first fork: one that
cannot confine itself exits with CONFINE_FAILED before the hand-in is read, and from then on this process starts
fresh worker jails); the record's environment says which ran (`worker_start_mode`) and, for a fresh jail, why.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import time
from pathlib import Path

from fercomp.submission import forks, jail, protocol
from fercomp.submission.runner import Limits, WorkerFailure, _env, interpreter
from fercomp.submission.staging import homes_root
from fercomp.submission.worker_template import CONFINE_FAILED

#: Whether hand-ins' workers may fork from a template (benchmarks/bench_cohort.py turns it off to compare).
ENABLED = True

_TEMPLATES: dict[int, "WorkerTemplate"] = {}  # by thread count (the template's environment sets it)
_FAILED: list[str] = []  # why a worker fork could not be used in this process: later hand-ins go fresh at once


class WorkerTemplate(forks.Template):
    """One worker template in its jail (worker_template.py)."""

    NAME = "worker template"

    def _spec(self, fd: int) -> jail.JailSpec:
        # HOME and TMPDIR name the home each fork will have; the homes' folder is bound (not listable: each home is
        # reached by its random name, and only its fork's uid may enter it); nothing in it is the template's
        return jail.JailSpec(argv=(interpreter(), "-m", "fercomp.submission.worker_template", str(fd)), home="",
                             env=tuple(_env(self.threads, jail.HOME).items()), pass_fds=(fd,), host_ids=self.host_ids,
                             forks=forks.FORK_UIDS, nested=True, writable=(str(homes_root()),))

    def _failed(self) -> list[str]:
        return _FAILED


class ForkedWorker(forks.ForkedMeasurer):
    """A worker forked from the worker template: a JailedProcess with a home, its process a forks.Fork."""

    def __init__(self, template: WorkerTemplate, limits: Limits, private: list[str], cores: list[int] | None,
                 file_size_mb: int) -> None:
        forks.JailedProcess.__init__(self, "fercomp.submission.worker", limits, {}, True, private=private,
                                     reasons=protocol.WORKER_REASONS, cores=cores, file_size_mb=file_size_mb)
        self.template = template
        self._cgroups: list[str] = []

    def _request(self) -> dict:
        """What the fork needs to make its jail: the paths a fresh worker jail binds (jail.command), as this
        hand-in's private folders leave them, its home and its file-size limit."""
        read_only = [*jail.library_roots(self.private), *jail.SYSTEM_READ_ONLY, "/dev/urandom", "/dev/random", "/dev/zero"]
        return {"read_only": read_only, "writable": ["/dev/null"], "home": self.home, "inside_home": jail.HOME,
                "file_size_mb": self.file_size_mb}

    def _launch(self, inherited: list[int]) -> forks.Fork:
        request = self._request()
        own_home = lambda uid: jail.prepare_home(Path(self.home), (uid, uid))  # noqa: E731 - its fork's uid alone
        fork = self.template.spawn([*inherited, self._log.fileno()], self.cores, request, own_home)
        self.host_ids = (fork.uid, fork.uid)  # the kernel's record of a seccomp kill names this uid (kernel_log)
        if fork.pid > 0 and fork.returncode is None:
            try:
                self._cgroups = jail.fork_cgroups(fork.pid, forks.hard_memory_mb(self.limits.memory_limit_mb))
            except OSError as exc:  # not in a cgroup of its own, it must not run a hand-in: a fresh jail does instead
                fork.kill()
                raise forks.TemplateError(f"a forked worker could not be given its cgroup ({exc})") from None
        return fork

    def close(self) -> None:
        # the worker dies with its fork (its death signal); should it not have had the time to ask for that
        # signal, its cgroup still holds it: everything left in it is killed before the cgroup is removed
        forks.JailedProcess.close(self)
        self.proc.release()
        for _ in range(100):
            if not any(_members(folder) for folder in self._cgroups):
                break
            for folder in self._cgroups:
                _kill_members(folder)
            time.sleep(0.02)
        jail.remove_cgroups(self._cgroups)

    def _jail_pids(self) -> list[int]:
        # not the fork that only waits for the worker: it runs nothing, and its resident pages are the template's
        # (a fork shares them), which counted twice would fill a hand-in's limit before it ran
        return [pid for pid in super()._jail_pids() if pid != self.proc.pid]

    def ready(self) -> dict:
        """As a fresh worker's; a fork that could not confine itself (before the hand-in was read) is a
        TemplateError: the kernel refused, and this process starts fresh worker jails from now on."""
        try:
            return super().ready()
        except WorkerFailure:
            if self.proc.returncode == CONFINE_FAILED:
                lines = [line for line in self.log_tail().splitlines() if line.strip()]
                _FAILED.append(f"a forked worker could not make its own jail ({lines[-1][:300] if lines else 'no log'})")
                raise forks.TemplateError(_FAILED[-1]) from None
            raise


def _members(folder: str) -> list[int]:
    try:
        return [int(pid) for pid in Path(folder, "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _kill_members(folder: str) -> None:
    """Kill what is left in a forked worker's cgroup: cgroup v2's cgroup.kill, else each process it lists (they
    cannot be reused pids: a pid leaves the cgroup when its process dies)."""
    try:
        Path(folder, "cgroup.kill").write_text("1")
        return
    except OSError:
        pass
    for pid in _members(folder):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@contextlib.contextmanager
def fresh_workers(why: str):
    """Within it, this process's hand-ins get fresh worker jails (`why` goes in their records)."""
    global ENABLED
    before, _WHY_OFF[0] = ENABLED, why
    ENABLED = False
    try:
        yield
    finally:
        ENABLED, _WHY_OFF[0] = before, "worker templates are turned off"


_WHY_OFF = ["worker templates are turned off"]


def unusable(jailed: bool, gpu: bool) -> str | None:
    """Why a hand-in's worker cannot be forked from a template here (None when it can)."""
    return forks.why_unusable("worker", ENABLED, _FAILED, jailed, gpu, off=_WHY_OFF[0])


def template_for(limits: Limits, jailed: bool, gpu: bool) -> WorkerTemplate | None:
    """This process's worker template for `limits` (started, or again after it died), or None: a fresh jail."""
    if unusable(jailed, gpu):
        return None
    return forks.registered(_TEMPLATES, WorkerTemplate, limits.threads)


@atexit.register
def close_all() -> None:
    """End every worker template of this process (a scoring run's end; also at exit)."""
    forks.close_registered(_TEMPLATES)
