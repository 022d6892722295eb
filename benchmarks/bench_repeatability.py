"""Repeatability: score the same submission 5 times; accuracy, confusion matrix and FLOPs must be
identical, and latency p50 should vary little (coefficient of variation printed).

Run: python benchmarks/bench_repeatability.py [--runs 5]   (the baseline with seeded random weights on a
1,000-image synthetic held-out split; every run is a fresh `score_submission`, worker and all).
"""

from __future__ import annotations

import argparse
import statistics

import torch
from common import WORK, baseline
from tabulate import tabulate

from fercomp.data.synth import SynthSpec, write
from fercomp.scoring import ScoreConfig, score_submission


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    data = WORK / "fer2013_repeat_bench.csv"
    if not data.exists():
        write(data, SynthSpec(n_train=100, n_public=100, n_private=1000, seed=5), "csv")
    sub = WORK / "baseline_cnn.py"
    sub.write_text((WORK.parent.parent / "baselines" / "baseline_cnn.py").read_text())
    torch.save(baseline().state_dict(), sub.with_suffix(".pt"))
    records = [score_submission(sub, ScoreConfig(data=data, out_dir=WORK / "repeat_results")) for _ in range(args.runs)]
    p50 = [r.latency["latency_ms_p50"] for r in records]
    rows = [[k + 1, f"{100 * r.accuracy:.4f}", r.flops["fvcore_flops"], f"{r.latency['latency_ms_p50']:.3f}",
             f"{r.latency['latency_ms_p90']:.3f}", f"{r.latency['throughput_images_per_s']:.1f}"] for k, r in enumerate(records)]
    print(tabulate(rows, headers=["run", "accuracy %", "fvcore FLOPs", "p50 ms", "p90 ms", "img/s"], tablefmt="github"))
    same = all(r.accuracy == records[0].accuracy and r.confusion_matrix == records[0].confusion_matrix
               and r.flops["fvcore_flops"] == records[0].flops["fvcore_flops"] for r in records)
    cv = statistics.stdev(p50) / statistics.mean(p50)
    print(f"accuracy, confusion matrix and FLOPs identical over {args.runs} runs: {same}")
    print(f"latency p50 coefficient of variation: {cv:.1%} (mean {statistics.mean(p50):.3f} ms)")


if __name__ == "__main__":
    main()
