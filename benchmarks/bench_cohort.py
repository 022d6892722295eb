"""A cohort through `leaderboard.collect_and_score`: how much of a grading run is fixed cost per submission?

A cohort of generated submissions (by default 27 small CNNs of different widths and 3 baseline-sized
ones, random weights saved beside each) is scored on a synthetic held-out split, every record afresh
(`rescore all`), in interleaved rounds:
- fresh: every worker started anew (a new interpreter importing torch, fvcore, ptflops: today's path);
- template: every worker forked from one pre-imported worker template (fercomp/submission/template.py);
- template, --jobs 2 (when the machine has ≥ 2 cores): each worker pinned to its own half of the cores.
Reference (same run): the sum over the cohort of each record's predict and latency phases, the part of
scoring that is the submission's own work. Printed per mode: wall ÷ that sum and the fixed time per
submission, (wall − sum) ÷ submissions. For --jobs 2 the reference is the sum ÷ 2 (two at a time).
Targets (#16): template wall ≤ 1.15 × the sum; fixed time ≤ 0.5 s per submission.

Run: python benchmarks/bench_cohort.py [--small 27] [--large 3] [--images 1000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
from common import ROOT, WORK, baseline
from tabulate import tabulate

from fercomp.data.synth import SynthSpec, write
from fercomp.leaderboard import collect_and_score
from fercomp.scoring import ScoreConfig

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


def run(paths: list[Path], data: Path, results: Path, jobs: int, template: bool) -> dict:
    config = ScoreConfig(data=data, out_dir=results)
    start = time.perf_counter()
    records, _ = collect_and_score(paths, results, config, jobs=jobs, rescore={"all"}, template=template)
    wall = time.perf_counter() - start
    failed = [n for n, r in records.items() if r.status != "scored"]
    if failed:
        raise SystemExit(f"scoring failed for {failed[:3]}: {records[failed[0]].failure}")
    own = sum(r.timings["predict_s"] + r.timings["latency_s"] for r in records.values())
    modes = {r.environment.get("start_mode") for r in records.values()}
    return {"wall": wall, "own": own, "modes": modes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=27)
    parser.add_argument("--large", type=int, default=3)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    data = WORK / f"fer2013_cohort_{args.images}.csv"
    if not data.exists():
        write(data, SynthSpec(n_train=100, n_public=100, n_private=args.images, seed=11), "csv")
    paths = cohort(WORK / "cohort", args.small, args.large)
    n = len(paths)
    modes = [("fresh", 1, False), ("template", 1, True)] + ([("template, --jobs 2", 2, True)] if (os.cpu_count() or 1) >= 2 else [])
    found: dict[str, list[dict]] = {m: [] for m, _, _ in modes}
    for _ in range(args.rounds):
        for name, jobs, template in modes:
            found[name].append(run(paths, data, WORK / "cohort_results" / name.replace(",", "").replace(" ", "_"), jobs, template))
    rows = []
    for name, jobs, _ in modes:
        runs = found[name]
        ratio = statistics.median(r["wall"] / (r["own"] / jobs) for r in runs)
        fixed = statistics.median((r["wall"] - r["own"] / jobs) / n for r in runs)
        rows.append([name, f"{statistics.median(r['wall'] for r in runs):.1f}", f"{statistics.median(r['own'] for r in runs):.1f}",
                     f"{ratio:.2f}×", f"{fixed:.2f}", "/".join(sorted(set().union(*(r["modes"] for r in runs)))),
                     "≤ 1.15×, ≤ 0.5 s" if name.startswith("template") else ""])
    print(f"{n} submissions ({args.small} small, {args.large} baseline-sized), {args.images} held-out images, "
          f"{os.cpu_count()} cores, torch {torch.__version__}, medians of {args.rounds} interleaved rounds")
    print(tabulate(rows, headers=["mode", "wall s", "Σ predict + latency s", "wall ÷ reference", "fixed s / submission",
                                  "records' start mode", "target"], tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
