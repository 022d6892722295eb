"""A real one-node Slurm (Debian's slurm-wlm and munge) started for a test and stopped after it.

Everything lives in one temporary folder: the munge key and socket, slurm.conf, the state and spool folders and
the logs; the daemons listen on free ports, so a machine's own Slurm (if any) is never touched. The daemons run in
the foreground as children of the test (and die with it: PR_SET_PDEATHSIG), and `stop()` ends exactly those
three processes. The plugins are the ones that work in a container without systemd or a writable cgroup tree:
proctrack/linuxproc, task/none, jobacct_gather/none.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "sinfo", "squeue", "scontrol", "scancel")
SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])
NODE_CPUS, NODE_MB, PARTITION_MINUTES = 2, 4000, 60  # what sinfo will report for the one node and partition


def unavailable() -> str | None:
    """Why a real Slurm cannot be started here, or None."""
    if os.geteuid() != 0:
        return "not root (slurmd and munged are started as root)"
    missing = [t for t in DAEMONS + CLIENTS if shutil.which(t, path=SEARCH) is None]
    if missing:
        return f"no {missing[0]} (apt-get install slurm-wlm munge)"
    return None


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: a killed test leaves no daemon behind


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """munged + slurmctld + slurmd on this machine; `env` is what a client (sbatch, submit.sh) needs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: list[subprocess.Popen] = []
        self.host = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf), "PATH": SEARCH}

    def start(self, timeout: float = 60) -> None:
        r = self.root
        for sub in ("munge", "state", "spool", "log"):
            (r / sub).mkdir(mode=0o700)
        key = r / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._spawn("munged", "-F", "--force", f"--key-file={key}", f"--socket={r / 'munge/socket'}",
                    f"--pid-file={r / 'munge/pid'}", f"--log-file={r / 'log/munged.log'}", f"--seed-file={r / 'munge/seed'}")
        self._wait(lambda: (r / "munge/socket").exists(), timeout, "munged's socket")
        self.conf.write_text(self.config())
        self._spawn("slurmctld", "-D", "-f", str(self.conf))
        self._spawn("slurmd", "-D", "-f", str(self.conf), "-N", self.host)
        self._wait(lambda: self.run("sinfo", "-h", "-o", "%t").stdout.strip() == "idle", timeout, "an idle node in sinfo")

    def config(self) -> str:
        r, ctld, d = self.root, _free_port(), _free_port()
        return f"""ClusterName=fercomp-test
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={ctld}
SlurmdPort={d}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={r / 'munge/socket'}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={r / 'state'}
SlurmdSpoolDir={r / 'spool'}
SlurmctldPidFile={r / 'slurmctld.pid'}
SlurmdPidFile={r / 'slurmd.pid'}
SlurmctldLogFile={r / 'log/slurmctld.log'}
SlurmdLogFile={r / 'log/slurmd.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
MinJobAge=600
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={NODE_CPUS} RealMemory={NODE_MB} State=UNKNOWN
PartitionName=debug Nodes={self.host} Default=YES MaxTime={PARTITION_MINUTES} State=UP
"""

    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.root / "log" / f"{name}.out", "wb")
        self.procs.append(subprocess.Popen([shutil.which(name, path=SEARCH), *args], stdout=log, stderr=subprocess.STDOUT,
                                           env=self.env, preexec_fn=_die_with_parent))
        log.close()

    def _wait(self, ready, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if ready():
                return
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{Path(proc.args[0]).name} exited {proc.returncode}: {self.logs()}")
            time.sleep(0.3)
        raise RuntimeError(f"no {what} after {timeout:.0f} s: {self.logs()}")

    def logs(self) -> str:
        return " | ".join(f"{p.name}: {p.read_text(errors='replace')[-600:]}" for p in sorted((self.root / "log").glob("*")))

    def run(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=60, **kw)

    def job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as key → value (an array's tasks: the first task's record)."""
        text = self.run("scontrol", "-o", "show", "job", job_id).stdout.splitlines()
        return dict(f.split("=", 1) for f in (text[0].split() if text else []) if "=" in f)

    def states(self, job_id: str) -> list[str]:
        """Every task's JobState (one for a plain job)."""
        lines = self.run("scontrol", "-o", "show", "job", job_id).stdout.splitlines()
        return [f.split("=", 1)[1] for line in lines for f in line.split() if f.startswith("JobState=")]

    def wait(self, *job_ids: str, timeout: float = 180) -> None:
        """Until every task of every job has ended (completed, failed, cancelled …)."""
        live = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING"}
        self._wait(lambda: all(s and not (set(s) & live) for s in map(self.states, job_ids)), timeout,
                   f"end of jobs {', '.join(job_ids)}")

    def queued(self) -> list[str]:
        return self.run("squeue", "-h", "-o", "%i").stdout.split()

    def stop(self) -> None:
        """Cancel what is still queued, then end the three daemons this object started (and nothing else)."""
        if self.procs and all(p.poll() is None for p in self.procs) and self.queued():
            self.run("scancel", "--full", *self.queued())
            with contextlib.suppress(RuntimeError):  # stopping slurmd below ends what is left
                self._wait(lambda: not self.queued(), 30, "an empty queue")
        for proc in reversed(self.procs):  # slurmd, slurmctld, then munged, which they authenticate through
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
