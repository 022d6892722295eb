"""Scoring benchmark: how close fercomp's evaluation runs to the machine's peak, in one run.

Run: python benchmarks/bench_score.py   (builds a synthetic split of 3,589 held-out images once under
benchmarks/.work/, and random baseline weights). Printed, all measured in this one process run:
- the machine's sgemm GMAC/s (a 2048² fp32 matrix product, same thread count): the reference;
- pure evaluation of the baseline the way the worker runs it (preprocessed tensor, channels-last,
  inference_mode, batch 128, a fresh process with the worker's malloc settings), forward passes only;
- the same forward passes in plain eager NCHW at the notebook's batch 64 in this process (default
  allocator), which splits the notebook's gap into the part fercomp's way of running the model wins and
  the part the notebook's data pipeline loses;
- the competition notebook's path: pandas rows, a string split per item, PIL transforms, DataLoader;
- fercomp's predict phase inside `fercomp score` (worker, pipes, validation), from the record's timings;
- the whole `fercomp score` command (a fresh process: imports, data, sandbox, FLOPs, latency).
This machine's speed drifts by 10-30 % within minutes, so every measurement is taken once per round,
rounds are repeated (`python benchmarks/bench_score.py ROUNDS`, default 3) and medians are printed.
Targets: fercomp eval ≥ 90 % of sgemm GMAC/s; ≥ 1.6× the notebook path; whole score ≤ 1.25× pure eval (#3),
restated by #16 as whole score ≤ 1.25× its predict + latency phases.
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

from fercomp import allocator
from fercomp.data.source import load_data
from fercomp.data.synth import SynthSpec, write
from fercomp.submission.preprocess import Preprocess, apply
from fercomp.submission.runner import THREAD_WAIT_ENV

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


def pure_eval_seconds(model: torch.nn.Module, images: np.ndarray, batch: int = 128, channels_last: bool = True) -> float:
    """Forward passes over the already-preprocessed split, nothing else (one warm-up batch untimed)."""
    x = apply(images, Preprocess())
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
        model = model.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        model(x[:batch])
        start = time.perf_counter()
        for i in range(0, len(x), batch):
            model(x[i : i + batch])
    return time.perf_counter() - start


def notebook_seconds(model: torch.nn.Module, csv: Path) -> float:
    """The competition notebook's evaluation: a Dataset over pandas rows with per-item PIL transforms."""
    loader = torch.utils.data.DataLoader(notebook_dataset(csv, "PrivateTest"), batch_size=64, shuffle=False)
    start = time.perf_counter()
    with torch.no_grad():
        for x, _ in loader:
            model(x)
    return time.perf_counter() - start


def score_command(sub: Path, data: Path, device: str = "cpu") -> tuple[float, dict]:
    """Wall time of a fresh `fercomp score` process (default latency settings) and its record."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "fercomp", "score", str(sub), "--data", str(data), "--out", str(WORK / "results"), "--json",
         "--device", device, "--split", "PrivateTest"],  # the split the pure evaluation reads
        capture_output=True, text=True,
    )
    whole = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"fercomp score failed: {proc.stderr[-2000:]}")
    return whole, json.loads(proc.stdout)


def pure_in_worker_env(data: Path) -> float:
    """Pure evaluation in a fresh process with the worker's allocator and thread-wait settings: fercomp's way."""
    env = dict(os.environ, **allocator.ENV, **THREAD_WAIT_ENV)
    proc = subprocess.run([sys.executable, __file__, "--pure", str(data)], env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"pure evaluation failed: {proc.stderr[-2000:]}")
    return float(proc.stdout.split()[-1])


def bare_cuda_seconds(images: np.ndarray, batch: int = 128) -> float:
    """#16's CUDA reference: the baseline's forward passes over the preprocessed split already on the GPU,
    under inference_mode, fp32 with TF32 off (as the worker runs), synchronised, one warm-up batch untimed."""
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    model = baseline().eval().to("cuda", memory_format=torch.channels_last)
    x = apply(images, Preprocess()).contiguous(memory_format=torch.channels_last).to("cuda")
    with torch.inference_mode():
        model(x[:batch])
        torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(0, len(x), batch):
            model(x[i : i + batch])
        torch.cuda.synchronize()
    return time.perf_counter() - start


def cuda_rows(data: Path, sub: Path, images: np.ndarray, rounds: int) -> list[list[str]]:
    """fercomp's predict phase on CUDA against a bare loop on the same device (absolute ms only here)."""
    if not torch.cuda.is_available():
        return [["CUDA: fercomp predict vs a bare inference_mode loop", "", "", "no CUDA device on this machine", "≤ 1.2×"]]
    pairs = [(score_command(sub, data, "cuda")[1]["timings"]["predict_s"], bare_cuda_seconds(images)) for _ in range(rounds)]
    predict, bare = float(np.median([p for p, _ in pairs])), float(np.median([b for _, b in pairs]))
    ratio = float(np.median([p / b for p, b in pairs]))
    return [[f"CUDA {torch.cuda.get_device_name()}: bare inference_mode loop (reference)", f"{1e3 * bare:.0f} ms", "", "1.00×", ""],
            ["CUDA: fercomp predict phase (sandboxed worker)", f"{1e3 * predict:.0f} ms", "", f"{ratio:.2f}×", "≤ 1.2×"]]


def loader_floor_seconds() -> float:
    """A fresh process that imports torch and loads a tiny exported program: what any measurer of an exported
    graph pays before its first hand-in (torch.export.load imports torch._dynamo and, on first use, more)."""
    tiny = WORK / "tiny_program.pt2"
    if not tiny.exists():
        model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                    torch.nn.Linear(4, 7)).eval()
        torch.export.save(torch.export.export(model, (torch.zeros(2, 1, 48, 48),), strict=False), tiny)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import torch, torch.export; torch.export.load({str(tiny)!r})"], check=True,
                   capture_output=True)
    return time.perf_counter() - start


def one_round(data: Path, sub: Path, images: np.ndarray) -> dict:
    """Every measurement once, back to back, so that each ratio compares figures taken minutes apart at most."""
    whole, record = score_command(sub, data)
    return {
        "loader": loader_floor_seconds(),
        "sgemm": sgemm_gmacs(),
        "pure": pure_in_worker_env(data),
        "nchw": pure_eval_seconds(baseline().eval(), images, batch=64, channels_last=False),
        "notebook": notebook_seconds(baseline().eval(), data),
        "whole": whole,
        "predict": record["timings"]["predict_s"],
        "timings": record["timings"],
    }


def main() -> None:
    torch.set_num_threads(THREADS)
    if sys.argv[1:2] == ["--pure"]:
        print(pure_eval_seconds(baseline().eval(), load_data(sys.argv[2]).select("PrivateTest").images))
        return
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    data, sub = setup()
    held = load_data(data).select("PrivateTest")
    n = len(held)
    runs = [one_round(data, sub, held.images) for _ in range(rounds)]
    med = lambda key: float(np.median([r[key] for r in runs]))  # noqa: E731
    ratio = lambda a, b: float(np.median([r[a] / r[b] for r in runs]))  # noqa: E731
    gmacs = lambda seconds: n * MACS / seconds / 1e9  # noqa: E731
    peak = med("sgemm")
    share = lambda key: float(np.median([gmacs(r[key]) / r["sgemm"] for r in runs]))  # noqa: E731
    # The command's own phases; one hand-in's command also waits for its measurer's jail to import torch and
    # torch.export's loader and warm them (the template's start, nothing to spread it over): the fixed part's floor.
    own = lambda r: r["timings"]["predict_s"] + r["timings"]["latency_s"]  # noqa: E731
    med_timing = lambda key: float(np.median([r["timings"][key] for r in runs]))  # noqa: E731
    rows = [["sgemm 2048² fp32 (reference)", "", f"{peak:.1f}", "100 %", ""]]
    for key, what, target in (
        ("pure", "pure evaluation (fercomp's way: channels-last, batch 128, worker's allocator)", ""),
        ("nchw", "plain eager NCHW, batch 64 (the notebook's compute alone)", ""),
        ("notebook", "notebook path (pandas rows, PIL, DataLoader, batch 64)", ""),
        ("predict", "fercomp predict phase (sandboxed worker)", "≥ 90 % of sgemm"),
    ):
        rows.append([what, f"{med(key):.2f}", f"{gmacs(med(key)):.1f}", f"{share(key):.0%}", target])
    rows += [
        ["fercomp vs notebook", "", "", f"{ratio('notebook', 'predict'):.2f}×", "≥ 1.6×"],
        ["└ of which layout and allocator (NCHW → fercomp's way)", "", "", f"{ratio('nchw', 'pure'):.2f}×", ""],
        ["└ of which data pipeline (notebook → its compute)", "", "", f"{ratio('notebook', 'nchw'):.2f}×", ""],
        ["whole `fercomp score` command", f"{med('whole'):.2f}", "", f"{ratio('whole', 'pure'):.2f}× pure eval", "≤ 1.25×"],
        ["└ fixed part (whole − predict phase)", f"{float(np.median([r['whole'] - r['predict'] for r in runs])):.2f}", "", "", ""],
        ["whole command ÷ (predict + latency phases) (#16's restated target)", "", "",
         f"{float(np.median([r['whole'] / own(r) for r in runs])):.2f}×", "≤ 1.25×"],
        ["└ of which the wait for the measurer's jail: (predict + latency + wait) ÷ (predict + latency)",
         f"{med_timing('worker_ready_wait_s'):.2f} wait", "",
         f"{float(np.median([(own(r) + r['timings']['worker_ready_wait_s']) / own(r) for r in runs])):.2f}×", ""],
        ["└ floor: (predict + latency + a fresh process importing torch and loading a tiny exported program) ÷ (predict + latency)",
         f"{med('loader'):.2f} loader", "", f"{float(np.median([(own(r) + r['loader']) / own(r) for r in runs])):.2f}×", ""],
    ]
    print(f"baseline CNN, {n} images, {MACS / 1e9:.4f} GMAC/image, {THREADS} threads, torch {torch.__version__}, "
          f"medians of {rounds} interleaved rounds (ratios: median of per-round ratios), load average {os.getloadavg()[0]:.1f}")
    rows += cuda_rows(data, sub, held.images, rounds)
    print(tabulate(rows, headers=["what", "seconds", "GMAC/s", "ratio", "target"], tablefmt="github", disable_numparse=True))
    phases = {k: float(np.median([r["timings"][k] for r in runs])) for k in runs[0]["timings"]}
    print("score phases, medians (s): " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))


if __name__ == "__main__":
    main()
