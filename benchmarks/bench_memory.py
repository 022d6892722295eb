"""What one `fercomp score` of the baseline holds in memory at its peak, with the templates and with fresh jails.

Each row runs `fercomp score` of the baseline (3,589 held-out images, 104 MB of weights; the same files as
bench_score.py) in a fresh process and samples, every 0.1 s, the sum of the proportional set size (PSS: a page
shared by k processes counts 1/k to each) over the command's whole process tree: the CLI, nsjail, the templates and
their forks, or the fresh jails. PSS sums to what the tree really occupies, where resident sizes would count the
templates' shared pages once per fork. Rows: a first score (an empty export cache: the worker exports) and a
re-score (the export cached), each with both templates (the default) and with fresh jails (templates off).
The record's own `peak_rss_mb` (the largest jail's resident memory) is printed beside it.

Run: python benchmarks/bench_memory.py   (as root where the jail runs; memory does not move with the load)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

from bench_score import setup
from common import WORK
from tabulate import tabulate

from fercomp.submission.watchdog import tree_pids

FRESH = ("import sys\nfrom fercomp.submission import forks, worker_forks\nforks.ENABLED = worker_forks.ENABLED = False\n"
         "from fercomp.cli import main\nsys.argv = ['fercomp', *sys.argv[1:]]\nmain()\n")


def _pss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            return next((int(line.split()[1]) / 1024 for line in fh if line.startswith("Pss:")), 0.0)
    except OSError:
        return 0.0


def peak_pss(argv: list[str], env: dict) -> tuple[float, int]:
    """(the peak of the tree's summed PSS in MB, how many processes it had then) while `argv` runs."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak, processes = 0.0, 0
    while proc.poll() is None:
        pids = tree_pids(proc.pid)  # the watchdog's walk of a jail's processes
        total = sum(_pss_mb(p) for p in pids)
        if total > peak:
            peak, processes = total, len(pids)
        time.sleep(0.1)
    if proc.returncode:
        sys.exit(f"fercomp score failed: {proc.stderr.read()[-2000:]}")
    return peak, processes


def main() -> None:
    data, sub = setup()
    rows = []
    for label, fresh in (("both templates (the default)", False), ("fresh jails (templates off)", True)):
        exports, out = WORK / "memory_exports", WORK / "memory_results"
        shutil.rmtree(exports, ignore_errors=True)
        env = dict(os.environ, FERCOMP_EXPORT_CACHE_DIR=str(exports))
        launcher = [sys.executable, "-c", FRESH] if fresh else [sys.executable, "-m", "fercomp"]
        argv = [*launcher, "score", str(sub), "--data", str(data), "--out", str(out), "--split", "PrivateTest"]
        for run in ("first score (the worker exports)", "re-score (export cached)"):
            peak, processes = peak_pss(argv, env)
            record = json.loads((out / f"{sub.stem}.PrivateTest.json").read_text())
            rows.append([label, run, f"{peak:,.0f}", processes, f"{record['peak_rss_mb']:,.0f}",
                         f"{record['environment'].get('start_mode')}+{record['environment'].get('worker_start_mode')}"])
    print(f"baseline CNN, 3,589 images, load average {os.getloadavg()[0]:.1f}")
    print(tabulate(rows, headers=["jails", "run", "peak PSS of the tree, MB", "processes then", "record peak_rss_mb",
                                  "start mode (measurer+worker)"], tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
