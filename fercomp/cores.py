"""How parallel scoring jobs share this machine's cores: each job gets its own cores and as many threads,
so one job's latency phase is not measured while another job computes on the same cores."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class CoreSplit:
    slots: list[list[int]]  # the cores of each job (None-free: every job is pinned)
    threads: int  # per job
    shared: bool  # more jobs than cores: jobs share cores and latency is measured on shared cores
    note: str | None = None  # what the grader should know (shared cores, cores left idle)


def available_cores() -> list[int]:
    """The CPUs this process may run on (its affinity, e.g. a Slurm or container allocation)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def split_cores(jobs: int, cores: list[int] | None = None) -> CoreSplit:
    """Equal, disjoint sets of cores for `jobs` jobs; with more jobs than cores, every job on all of them."""
    cores = available_cores() if cores is None else sorted(cores)
    if jobs > len(cores):
        return CoreSplit([cores] * jobs, 1, True, f"--jobs {jobs} on {len(cores)} cores: jobs share cores, so "
                                                 "latencies are measured on shared cores; use --latency serial "
                                                 f"or --jobs {len(cores)} or fewer")
    per = len(cores) // jobs
    idle = len(cores) - per * jobs
    note = f"{idle} of {len(cores)} cores left idle so that every job has {per}" if idle else None
    return CoreSplit([cores[k * per:(k + 1) * per] for k in range(jobs)], per, False, note)
