"""Training benchmark: a fercomp training epoch vs pure forward+backward on the same batches, and vs the
competition notebook's per-item pipeline (pandas rows, string split, PIL transforms, DataLoader).

Run: python benchmarks/bench_train.py [--images 1200]   (the baseline CNN, batch 400, Adam, one epoch;
all three measured in this one run, so the ratios compare like with like on a noisy machine; all three
under the malloc settings fercomp's training applies to its process, see fercomp/allocator.py).
Target: fercomp epoch ≤ 1.10× pure forward+backward.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tabulate import tabulate

from common import WORK, baseline, notebook_dataset

from fercomp import allocator
from fercomp.data.source import load_data
from fercomp.data.synth import SynthSpec, write
from fercomp.submission.preprocess import Preprocess, apply
from fercomp.train.loop import train
from fercomp.train.recipe import Recipe





def pure_seconds(images: np.ndarray, labels: np.ndarray, batch: int) -> float:
    """Forward + backward + Adam step on preprocessed, channels-last batches: nothing else."""
    model = baseline().to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = apply(images, Preprocess()).contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(labels)
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[i : i + batch]), y[i : i + batch]).backward()
        opt.step()
    return time.perf_counter() - start


def notebook_seconds(csv: Path, n: int, batch: int) -> float:
    """One epoch through the notebook's per-item Dataset and a DataLoader, plain NCHW."""
    model = baseline().train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    start = time.perf_counter()
    for x, y in torch.utils.data.DataLoader(notebook_dataset(csv, "Training", n), batch_size=batch, shuffle=True):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1200)
    args = parser.parse_args()
    # fercomp's training sets this for its whole process; set first, all three rows run under it
    allocator.keep_freed_memory()
    WORK.mkdir(exist_ok=True)
    csv = WORK / f"fer2013_train_bench_{args.images}.csv"
    if not csv.exists():
        write(csv, SynthSpec(n_train=args.images, n_public=100, n_private=0, seed=4), "csv")
    data = load_data(csv)
    train_set = data.select("Training")
    recipe = Recipe(epochs=1, batch_size=400)
    pure = pure_seconds(train_set.images, train_set.labels, recipe.batch_size)
    result = train(baseline(), data, recipe, Preprocess(), WORK / "bench.pt", WORK / "train_report", progress=False)
    epoch = result.history[0]["train_seconds"]
    notebook = notebook_seconds(csv, args.images, recipe.batch_size)
    rows = [
        ["pure forward+backward+step (reference)", f"{pure:.2f}", "1.00×", ""],
        ["fercomp training epoch (shuffle, preprocessing, progress)", f"{epoch:.2f}", f"{epoch / pure:.2f}×", "≤ 1.10×"],
        ["notebook path (pandas rows, PIL, DataLoader, NCHW)", f"{notebook:.2f}", f"{notebook / pure:.2f}×", ""],
    ]
    print(f"baseline CNN, one epoch of {len(train_set)} images, batch 400, {os.cpu_count()} CPUs, torch {torch.__version__}")
    print(tabulate(rows, headers=["what", "seconds", "× pure", "target"], tablefmt="github"))
    print(f"fercomp vs notebook: {notebook / epoch:.2f}× faster")


if __name__ == "__main__":
    main()
