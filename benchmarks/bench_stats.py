"""Honest ranks for a whole cohort: is the bootstrap "seconds, not minutes"?

A cohort of 100 score records on the held-out split's 3,589 images (generated per-image predictions at
accuracies 45–70 %). Timed, in one run on this machine:
- reference: a per-resample loop (draw indices, confusion matrix by bincount, macro-F1), 2,000 resamples,
  as a straightforward implementation would do it, for a few records, extrapolated to 100;
- fercomp: `stats.record_intervals` for every record (Wilson + 2,000-resample bootstrap of accuracy and
  macro-F1) as one matrix product each, then `leaderboard.build` (decode every record's predictions, the
  99 neighbour and 100 baseline McNemar tests with paired bootstraps, Holm, tie groups, marks).
Target: the whole cohort's statistics in under 10 s, and the vectorised bootstrap ≥ 10× the loop.

Run: python benchmarks/bench_stats.py [--teams 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from tabulate import tabulate

from fercomp.config import CompetitionConfig
from fercomp.leaderboard import build
from fercomp.measure import metrics, stats
from fercomp.records import SCHEMA, ScoreRecord, encode_predictions

IMAGES = 3589


def cohort(teams: int, seed: int = 0) -> tuple[dict[str, ScoreRecord], list[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, IMAGES)
    ids = np.array([f"row:{i}" for i in range(IMAGES)])
    records, pairs = {}, []
    for k in range(teams + 1):
        name = "baseline" if k == teams else f"team_{k:03d}"
        skill = 0.40 if k == teams else rng.uniform(0.45, 0.70)
        top1 = np.where(rng.random(IMAGES) < skill, labels, rng.integers(0, 7, IMAGES))
        cm = metrics.confusion_matrix(labels, top1, 7)
        records[name] = ScoreRecord(
            schema=SCHEMA, status="scored", submission={"name": name, "sha256": "0" * 64},
            data={"split": "PrivateTest", "size": IMAGES, "sha256": "d" * 64}, environment={}, timestamp="", isolation=[],
            accuracy=metrics.accuracy(cm), averages=metrics.averages(cm), confusion_matrix=cm.tolist(), gflops=0.1,
            predictions=encode_predictions(labels, top1, (top1 + 1) % 7, ids))
        pairs.append((labels, top1))
    return records, pairs


def loop_bootstrap(labels: np.ndarray, predicted: np.ndarray, resamples: int = stats.RESAMPLES) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    values = []
    for _ in range(resamples):
        pick = rng.integers(0, len(labels), len(labels))
        values.append(metrics.averages(metrics.confusion_matrix(labels[pick], predicted[pick], 7))["macro"]["f1"])
    return tuple(np.percentile(values, [2.5, 97.5]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    records, pairs = cohort(args.teams)
    times: dict[str, list[float]] = {"loop": [], "intervals": [], "board": []}
    sample = 3
    for _ in range(args.rounds):  # interleaved, medians reported
        start = time.perf_counter()
        for labels, predicted in pairs[:sample]:
            loop_bootstrap(labels, predicted)
        times["loop"].append((time.perf_counter() - start) / sample * len(pairs))
        stats.resample_counts.cache_clear()
        start = time.perf_counter()
        for labels, predicted in pairs:
            stats.record_intervals(labels, predicted, 7)
        times["intervals"].append(time.perf_counter() - start)
        start = time.perf_counter()
        board = build(records, "baseline", CompetitionConfig(), "PrivateTest")
        times["board"].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    total = med["intervals"] + med["board"]
    rows = [
        [f"reference: per-resample loop, macro-F1 only, {len(pairs)} records (extrapolated from {sample})",
         f"{med['loop']:.1f}", "1.00×", ""],
        [f"fercomp: record_intervals × {len(pairs)} (Wilson + bootstrap accuracy, macro-F1)", f"{med['intervals']:.2f}",
         f"{med['loop'] / med['intervals']:.1f}×", "≥ 10×"],
        [f"fercomp: leaderboard.build ({len(board.comparisons)} paired tests, Holm, tie groups, marks)", f"{med['board']:.2f}", "", ""],
        ["fercomp: the cohort's statistics in all", f"{total:.2f}", "", "< 10 s"],
    ]
    print(tabulate(rows, headers=["what", "seconds (median)", "speed-up vs loop", "target"], tablefmt="github", disable_numparse=True))
    groups = len({m.tie_group for m in board.marks})
    print(f"\n{len(board.marks)} teams in {groups} tie groups; {stats.RESAMPLES} resamples of {IMAGES} images, seed {stats.SEED}; "
          f"{args.rounds} rounds")
    print(f"targets met: {med['loop'] / med['intervals'] >= 10 and total < 10}")


if __name__ == "__main__":
    main()
