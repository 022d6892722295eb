"""A cohort through `leaderboard.collect_and_score`: how much of a grading run is fixed cost per submission?

A cohort of generated submissions (by default 12 small CNNs of different widths and 2 baseline-sized
ones, random weights saved beside each) is scored on a synthetic held-out split, every record afresh
(`rescore all`), in interleaved rounds:
- plain, export: no jail (`sandbox = off`), each hand-in exported by a fresh worker (the jail's own cost
  is the difference to the next row);
- jail, export: the grading path — per hand-in a worker forked from the run's worker template (one jail that
  imports torch and its exporter once per run; the fork builds its own jail, then builds and exports) and a
  measurer forked from the run's measurer template (where no template can run, fresh jails: the table's
  start-mode column says which, measurer+worker);
- jail, export, fresh workers: as "jail, export" with the worker template turned off (a fresh nsjail per
  hand-in for the worker: import torch and torch.export, build, export);
- jail, cached export: the same hand-ins again with their exported programs cached (a re-score: no
  submitted code runs, only the measurers, which take each program's sketch and FLOP counts from beside it);
- jail, export, fresh measurers and workers: as "jail, export" with both templates turned off (fresh jails per
  hand-in), for comparison;
- jail, export, --jobs 2 (when the machine has ≥ 2 cores): two hand-ins at a time on their own cores.
Reference (same run): the sum over the cohort of each record's predict and latency phases, the part of
scoring that is the submission's own work. Printed per mode: wall ÷ that sum and the fixed time per
submission, (wall − sum) ÷ submissions (for --jobs 2 the reference is the sum ÷ 2), and the median
export phase (worker start, build, torch.export, measurer load) of small and baseline-sized hand-ins.
A second reference, also measured in this run: a fresh interpreter importing torch (`python -c "import
torch"`, median of 3), the floor of any design that starts a process per hand-in. Printed: fixed time ÷ that.
Targets: fixed time ≤ 1.0× a fresh `import torch` in the same run for a first score, ≤ 0.25× with the exports
cached. Each run (each row, each round) starts its own templates, as a grading run does, so their imports are in
the fixed time, spread over the cohort. benchmarks/bench_check.py splits a fresh worker's seconds.
The machine's load average is printed with the table: only ratios taken in one run compare.

Run: python benchmarks/bench_cohort.py [--small 12] [--large 2] [--images 1000] [--rounds 1] [--only cached]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from common import ROOT, WORK, baseline
from tabulate import tabulate

from fercomp.data.synth import SynthSpec, write
from fercomp.leaderboard import collect_and_score
from fercomp.scoring import ScoreConfig
from fercomp.submission import forks, worker_forks
from fercomp.submission.runner import Limits

SMALL = '''import torch
from torch import nn

WIDTH = {width}


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, WIDTH, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4),
                                      nn.Conv2d(WIDTH, 2 * WIDTH, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(2 * WIDTH, 7)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def build_model():
    return SmallNet()
'''


def cohort(folder: Path, small: int, large: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(small):
        path = folder / f"small_{k:02d}.py"
        path.write_text(SMALL.format(width=4 + 2 * (k % 8)))
        namespace: dict = {}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        torch.manual_seed(k)
        torch.save(namespace["build_model"]().state_dict(), path.with_suffix(".pt"))
        paths.append(path)
    for k in range(large):
        path = folder / f"large_{k:02d}.py"
        path.write_text((ROOT / "baselines" / "baseline_cnn.py").read_text())
        torch.save(baseline().state_dict(), path.with_suffix(".pt"))
        paths.append(path)
    return paths


def run(paths: list[Path], data: Path, results: Path, jobs: int, sandbox: str, cached: bool, template: bool = True,
        worker_template: bool = True) -> dict:
    config = ScoreConfig(data=data, out_dir=results, limits=Limits(sandbox=sandbox))
    forks.ENABLED, worker_forks.ENABLED = template, worker_template
    exports = WORK / "cohort_exports"
    if not cached:
        shutil.rmtree(exports, ignore_errors=True)
    os.environ["FERCOMP_EXPORT_CACHE_DIR"] = str(exports)
    start = time.perf_counter()
    records, _ = collect_and_score(paths, results, config, jobs=jobs, rescore={"all"})
    wall = time.perf_counter() - start
    forks.close_all()  # the next run starts its own templates, as a grading run would
    worker_forks.close_all()
    failed = [n for n, r in records.items() if r.status != "scored"]
    if failed:
        raise SystemExit(f"scoring failed for {failed[:3]}: {records[failed[0]].failure}")
    own = sum(r.timings["predict_s"] + r.timings["latency_s"] for r in records.values())
    modes = {f"{r.environment.get('start_mode')}+{r.environment.get('worker_start_mode')}" for r in records.values()}
    load = {size: statistics.median([r.timings["load_s"] + r.timings["worker_ready_wait_s"]
                                     for n, r in records.items() if n.startswith(size)] or [float("nan")])
            for size in ("small", "large")}
    # The first hand-in of each job waits for the run's templates to start; later ones find them ready.
    start = sum(sorted((r.timings["worker_ready_wait_s"] for r in records.values()), reverse=True)[:jobs])
    return {"wall": wall, "own": own, "modes": modes, "load": load, "start": start}


def torch_import_seconds() -> float:
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=12)
    parser.add_argument("--large", type=int, default=2)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", default="", help="run only the modes whose name contains this, and \"jail, export\" "
                        "(which fills the cache the cached modes read), e.g. --only cached for a large cohort's re-score")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    data = WORK / f"fer2013_cohort_{args.images}.csv"
    if not data.exists():
        write(data, SynthSpec(n_train=100, n_public=100, n_private=args.images, seed=11), "csv")
    paths = cohort(WORK / "cohort", args.small, args.large)
    n = len(paths)
    modes = [("plain, export", 1, "off", False, True, True), ("jail, export", 1, "required", False, True, True),
             ("jail, export, fresh workers", 1, "required", False, True, False),
             ("jail, cached export", 1, "required", True, True, True),
             ("jail, export, fresh measurers and workers", 1, "required", False, False, False),
             ("jail, cached export, fresh measurers", 1, "required", True, False, True)]
    if (os.cpu_count() or 1) >= 2:
        modes.append(("jail, export, --jobs 2", 2, "required", False, True, True))
    modes = [m for m in modes if args.only in m[0] or m[0] == "jail, export"]
    found: dict[str, list[dict]] = {m[0]: [] for m in modes}
    for _ in range(args.rounds):
        for name, jobs, sandbox, cached, template, worker_template in modes:
            folder = WORK / "cohort_results" / name.replace(",", "").replace(" ", "_")
            found[name].append(run(paths, data, folder, jobs, sandbox, cached, template, worker_template))
    floor = torch_import_seconds()
    load_average = os.getloadavg()[0]
    rows = []
    for name, jobs, *_ in modes:
        runs = found[name]
        ratio = statistics.median(r["wall"] / (r["own"] / jobs) for r in runs)
        fixed = statistics.median((r["wall"] - r["own"] / jobs) / n for r in runs)
        load = {size: statistics.median(r["load"][size] for r in runs) for size in ("small", "large")}
        rows.append([name, f"{statistics.median(r['wall'] for r in runs):.1f}", f"{statistics.median(r['own'] for r in runs):.1f}",
                     f"{ratio:.2f}×", f"{fixed:.2f}", f"{fixed / floor:.2f}×", f"{load['small']:.2f} / {load['large']:.2f}",
                     "/".join(sorted(set().union(*(r["modes"] for r in runs)))),
                     {"jail, export": "≤ 1.0×", "jail, cached export": "≤ 0.25×"}.get(name, "")])
    print(f"{n} submissions ({args.small} small, {args.large} baseline-sized), {args.images} held-out images, "
          f"{os.cpu_count()} cores, torch {torch.__version__}, medians of {args.rounds} interleaved rounds, "
          f"load average {load_average:.1f}")
    print(f"reference: a fresh `python -c 'import torch'` takes {floor:.2f} s here")
    print("a re-score's fixed time per hand-in is the run's start (the first hand-in's wait for its measurer template, "
          "paid once and spread over the cohort) plus each hand-in's own; a larger cohort spreads the start thinner:")
    for name, jobs, *_ in (m for m in modes if "cached" in m[0]):  # with exports, the start hides in the first export
        runs = found[name]
        start = statistics.median(r["start"] / jobs for r in runs)
        each = statistics.median((r["wall"] - r["own"] / jobs - r["start"] / jobs) / n for r in runs)
        print(f"  {name}: start {start:.2f} s once ({start / floor:.2f}× import torch), then {each:.2f} s a hand-in "
              f"({each / floor:.2f}×); at 100 hand-ins {(start / 100 + each) / floor:.2f}×")
    print(tabulate(rows, headers=["mode", "wall s", "Σ predict + latency s", "wall ÷ reference", "fixed s / submission",
                                  "fixed ÷ torch import", "export phase s (small / baseline)", "records' start mode (measurer+worker)",
                                  "target (fixed ÷ torch import)"], tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
