"""Scoring benchmark: how close fercomp's evaluation runs to the machine's peak, in one run.

Run: python benchmarks/bench_score.py   (builds a synthetic split of 3,589 held-out images once under
benchmarks/.work/, and random baseline weights). Printed, all measured in this one process run:
- the machine's sgemm GMAC/s (a 2048² fp32 matrix product, same thread count): the reference;
- pure evaluation of the baseline (preprocessed tensor, channels-last, inference_mode, batch 128);
- the competition notebook's path: pandas rows, a string split per item, PIL transforms, DataLoader;
- fercomp's predict phase inside `fercomp score` (worker, pipes, validation), from the record's timings;
- the whole `fercomp score` command (a fresh process: imports, data, sandbox, FLOPs, latency).
Targets: fercomp eval ≥ 90 % of sgemm GMAC/s; ≥ 1.6× the notebook path; whole score ≤ 1.25× pure eval.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import torch
from tabulate import tabulate

from common import WORK, baseline, notebook_dataset

from fercomp.data.source import load_data
from fercomp.data.synth import SynthSpec, write
from fercomp.submission.preprocess import Preprocess, apply

MACS = 327_505_392  # the baseline's fvcore count per image
THREADS = os.cpu_count() or 1


def setup() -> tuple[Path, Path]:
    WORK.mkdir(exist_ok=True)
    data = WORK / "fer2013_score_bench.csv"
    if not data.exists():
        write(data, SynthSpec(n_train=200, n_public=200, n_private=3589, seed=3), "csv")
    sub = WORK / "baseline_cnn.py"
    sub.write_text((Path(__file__).resolve().parents[1] / "baselines" / "baseline_cnn.py").read_text())
    if not sub.with_suffix(".pt").exists():
        torch.manual_seed(0)
        torch.save(baseline().state_dict(), sub.with_suffix(".pt"))
    return data, sub




def sgemm_gmacs(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return repeats * n**3 / (time.perf_counter() - start) / 1e9


def pure_eval_seconds(model: torch.nn.Module, images: np.ndarray) -> float:
    x = apply(images, Preprocess()).contiguous(memory_format=torch.channels_last)
    model = model.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        model(x[:128])
        start = time.perf_counter()
        for i in range(0, len(x), 128):
            model(x[i : i + 128])
    return time.perf_counter() - start


def notebook_seconds(model: torch.nn.Module, csv: Path) -> float:
    """The competition notebook's evaluation: a Dataset over pandas rows with per-item PIL transforms."""
    loader = torch.utils.data.DataLoader(notebook_dataset(csv, "PrivateTest"), batch_size=64, shuffle=False)
    start = time.perf_counter()
    with torch.no_grad():
        for x, _ in loader:
            model(x)
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(THREADS)
    data, sub = setup()
    held = load_data(data).select("PrivateTest")
    n = len(held)
    model = baseline().eval()
    peak = sgemm_gmacs()
    pure = min(pure_eval_seconds(model, held.images) for _ in range(2))
    notebook = notebook_seconds(baseline().eval(), data)
    out = WORK / "results"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "fercomp", "score", str(sub), "--data", str(data), "--out", str(out), "--json",
         "--latency-queries", "100", "--latency-seconds", "1"],
        capture_output=True, text=True,
    )
    whole = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"fercomp score failed: {proc.stderr[-2000:]}")
    record = json.loads(proc.stdout)
    predict = record["timings"]["predict_s"]
    gmacs = lambda seconds: n * MACS / seconds / 1e9  # noqa: E731
    rows = [
        ["sgemm 2048² fp32 (reference)", "", f"{peak:.1f}", "100 %", ""],
        ["pure evaluation (channels-last, batch 128)", f"{pure:.2f}", f"{gmacs(pure):.1f}", f"{gmacs(pure) / peak:.0%}", ""],
        ["notebook path (pandas rows, PIL, DataLoader)", f"{notebook:.2f}", f"{gmacs(notebook):.1f}", f"{gmacs(notebook) / peak:.0%}", ""],
        ["fercomp predict phase (sandboxed worker)", f"{predict:.2f}", f"{gmacs(predict):.1f}", f"{gmacs(predict) / peak:.0%}", "≥ 90 % of sgemm"],
        ["fercomp vs notebook", "", "", f"{notebook / predict:.2f}×", "≥ 1.6×"],
        ["whole `fercomp score` command", f"{whole:.2f}", "", f"{whole / pure:.2f}× pure eval", "≤ 1.25×"],
    ]
    print(f"baseline CNN, {n} images, {MACS / 1e9:.4f} GMAC/image, {THREADS} threads, torch {torch.__version__}")
    print(tabulate(rows, headers=["what", "seconds", "GMAC/s", "ratio", "target"], tablefmt="github"))
    print("score phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in record["timings"].items()))


if __name__ == "__main__":
    main()
