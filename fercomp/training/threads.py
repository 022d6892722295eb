"""How many CPU threads training uses. torch's default (one per core) oversubscribes a machine whose cores
are busy: its threads spin-wait on one another behind the other work, so an epoch of small_cnn went from
0.63 s to 12 s with one busy core of two (#26). The default counts the cores that are idle now instead."""

from __future__ import annotations

import time
from contextlib import contextmanager

from fercomp.cores import available_cores


def _cpu_times() -> dict[int, tuple[int, int]]:
    """cpu index → (idle jiffies, total jiffies) from /proc/stat (Linux)."""
    out = {}
    with open("/proc/stat", encoding="ascii") as fh:
        for line in fh:
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                ticks = [int(v) for v in values[:8]]
                out[int(name[3:])] = (ticks[3] + ticks[4], sum(ticks))  # idle + iowait
    return out


def idle_cores(cores: list[int], sample_s: float = 0.1) -> float | None:
    """How many of `cores` sat idle over the next `sample_s` seconds (None where /proc/stat is missing)."""
    try:
        before = _cpu_times()
        time.sleep(sample_s)
        after = _cpu_times()
    except (OSError, ValueError):
        return None
    idle = 0.0
    for core in cores:
        if core in before and core in after:
            total = after[core][1] - before[core][1]
            idle += (after[core][0] - before[core][0]) / total if total > 0 else 1.0
    return idle


def choose_threads(requested: int) -> tuple[int, str]:
    """(threads, why): `requested` when given, else one per core idle now (at least 1)."""
    cores = available_cores()
    if requested:
        return requested, f"--threads {requested}"
    idle = idle_cores(cores)
    if idle is None:
        return len(cores), f"all {len(cores)} cores (idle time unknown here)"
    chosen = max(1, min(len(cores), round(idle)))
    return chosen, f"auto: {idle:.1f} of {len(cores)} cores idle"


@contextmanager
def torch_threads(count: int):
    """torch's intra-op threads set to `count` while inside; the previous number comes back afterwards."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
