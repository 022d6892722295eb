"""Training benchmark: a fercomp training epoch vs pure forward+backward on the same batches, and vs the
competition notebook's per-item pipeline (pandas rows, string split, PIL transforms, DataLoader).

Run: python benchmarks/bench_train.py [--images 1200]   (the baseline CNN, batch 400, Adam, one epoch;
all three measured in this one run, so the ratios compare like with like on a noisy machine; all three
under the malloc settings fercomp's training applies to its process, see fercomp/allocator.py).
Target: fercomp epoch ≤ 1.10× pure forward+backward. Last, small_cnn's epoch with one thread per core
against `train`'s default thread count (one per idle core), which matters on a busy machine.
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

from common import ROOT, WORK, baseline, notebook_dataset

from fercomp import allocator
from fercomp.data.source import load_data
from fercomp.data.synth import SynthSpec, write
from fercomp.submission.preprocess import Preprocess, apply
from fercomp.training.loop import train
from fercomp.training.recipe import Recipe


def pure_seconds(images: np.ndarray, labels: np.ndarray, batch: int, device: str = "cpu", precision: str = "fp32") -> float:
    """Forward + backward + Adam step on preprocessed, channels-last batches already on the device: nothing else."""
    model = baseline().to(device, memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = apply(images, Preprocess()).contiguous(memory_format=torch.channels_last).to(device)
    y = torch.from_numpy(labels).to(device)
    dtype = {"fp32": None, "bf16": torch.bfloat16}[precision]
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        opt.zero_grad(set_to_none=True)
        with torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(model(x[i : i + batch]).float(), y[i : i + batch])
        loss.backward()
        opt.step()
        loss.item()  # fercomp's loop reads each step's loss for its progress line: the same synchronisation
    sync()
    return time.perf_counter() - start


def cuda_rows(data, train_set, batch: int) -> list[list[str]]:
    """Where a CUDA device exists: fercomp's epoch on it against the pure loop on the same device."""
    if not torch.cuda.is_available():
        return [["CUDA rows", "—", "—", "no CUDA device here"]]
    rows = []
    for precision in ("fp32", "bf16"):
        pure_seconds(train_set.images[:batch], train_set.labels[:batch], batch, "cuda", precision)  # warm-up
        pure = pure_seconds(train_set.images, train_set.labels, batch, "cuda", precision)
        recipe = Recipe(epochs=2, batch_size=batch, device="cuda", precision=precision, threads=torch.get_num_threads())
        result = train(baseline(), data, recipe, Preprocess(), WORK / "bench_cuda.pt", WORK / "train_report_cuda", progress=False)
        epoch = result.history[-1]["train_seconds"]  # the second epoch: the first pays CUDA's start-up
        rows.append([f"pure loop on {torch.cuda.get_device_name()} ({precision})", f"{pure:.3f}", "1.00×", ""])
        rows.append([f"fercomp training epoch on CUDA ({precision})", f"{epoch:.3f}", f"{epoch / pure:.2f}×", "≤ 1.10×"])
    return rows


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


def threads_rows(csv: Path, rounds: int = 2) -> list[list[str]]:
    """small_cnn's epoch with one thread per core (torch's default) and with train's default (one per idle
    core, read from /proc/stat as training starts), interleaved; on a busy machine the first oversubscribes."""
    from fercomp.training.run import train_file
    from fercomp.training.threads import choose_threads

    sub = WORK / "threads_small_cnn.py"
    sub.write_bytes((ROOT / "submissions" / "small_cnn.py").read_bytes())
    cores = len(os.sched_getaffinity(0))
    rows = []
    for r in range(rounds):
        for threads in (cores, 0):
            why = choose_threads(threads)[1]
            result = train_file(sub, csv, Recipe(epochs=1, batch_size=400, threads=threads, device="cpu"),
                                out_dir=WORK / "threads_report", progress=False)
            rows.append([r + 1, f"--threads {threads}" if threads else f"default ({why})",
                         f"{result.history[0]['train_seconds']:.2f}"])
    return rows


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
    # the pure loop runs on torch's default threads; fercomp gets the same number (its own default counts idle cores)
    recipe = Recipe(epochs=1, batch_size=400, device="cpu", threads=torch.get_num_threads())
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
    print(tabulate(cuda_rows(data, train_set, recipe.batch_size), headers=["what", "seconds", "× pure", "target"],
                   tablefmt="github"))
    print(f"\nsmall_cnn, one epoch of {len(train_set)} images: torch's one thread per core vs train's default")
    print(tabulate(threads_rows(csv), headers=["round", "threads", "epoch seconds"], tablefmt="github"))


if __name__ == "__main__":
    main()
