"""Roofline cross-check: is the time a model takes explained by the compute the counters found?

The measurer measures this machine's multiply-add rate once (an fp32 matrix product at the scoring thread
count, before it loads a program; cached per machine, threads and torch version). The accuracy
pass gives the *marginal* seconds per image: each batch's forward time less one batch-1 call (the
per-call overhead), divided by the images after the first, the smallest over the batches (a batch slowed
by another process sharing the cores is not evidence). Their product is the most multiply-adds that
time could hold, once the per-image time of a reference graph timed in the same run (the cost of moving an
image through any graph under the machine's current load) is taken off: a model whose time holds `RATIO`
times more than any multiply-add counter found runs compute no counter sees (a compiled extension, a custom operator,
numpy inside forward, a matrix product spelled as elementwise operations): the verdict `unaccounted`.
Advisory only: it is kept in the record's `roofline` for a person to look at, never a flag, since a time
depends on the machine's load and a mark may not. CPU only: a GPU at batch 128 runs these small models so
far below its peak that time says nothing about compute.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from fercomp.hashing import sha256_json

RATIO = 8.0
PROBE_SIZE = 1024


def sgemm_macs_per_s(torch, size: int = PROBE_SIZE, repeats: int = 5) -> float:
    """The best of `repeats` fp32 size³ matrix products on the CPU, at torch's current thread count."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    torch.mm(a, b)  # warm-up: thread pool and caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return size**3 / best


def machine_key(info: dict, cpu_model: str) -> str:
    """What the probe's figure depends on: the CPU, the thread count and the torch build."""
    return sha256_json([cpu_model, info.get("threads"), info.get("torch")])[:16]


def cached_rate(cache: Path, key: str) -> float | None:
    try:
        return float(json.loads((cache / f"sgemm-{key}.json").read_text())["macs_per_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_rate(cache: Path, key: str, rate: float) -> None:
    from fercomp.atomic import write_text

    write_text(cache / f"sgemm-{key}.json", json.dumps({"macs_per_s": rate, "size": PROBE_SIZE}) + "\n")


def marginal_seconds_per_image(batch_sizes: list[int], seconds: list[float], batch1_seconds: float) -> float | None:
    """The smallest (batch time − one batch-1 call) / (batch size − 1) over the batches; None with no batch > 1."""
    found = [max(0.0, t - batch1_seconds) / (n - 1) for n, t in zip(batch_sizes, seconds) if n > 1]
    return min(found) if found else None


def seconds_per_image_reference(torch, batch: int = 128, repeats: int = 3) -> float:
    """The marginal seconds per image of a reference graph fercomp builds itself (flatten + a 2304→7 linear
    layer: 16 k multiply-adds), timed like the accuracy pass, in the same process and run as the hand-in's:
    the per-image cost of moving an image through any graph on this machine under its load right now."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48 * 48, 7)).eval()
    images = torch.zeros(batch, 1, 48, 48)
    with torch.inference_mode():
        model(images)
        best_batch = best_one = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            model(images)
            best_batch = min(best_batch, time.perf_counter() - start)
            start = time.perf_counter()
            model(images[:1])
            best_one = min(best_one, time.perf_counter() - start)
    return max(0.0, best_batch - best_one) / (batch - 1)


def check(rate: float, seconds_per_image: float, counted_macs: int, reference_seconds: float = 0.0) -> dict:
    """The numbers and the verdict: `unaccounted` when the time beyond the reference graph's holds more than
    RATIO × the counted compute. Relative throughout (the machine's rate, the reference timed in the same
    run): no absolute margin. Advisory: it never flags a record or withholds a mark."""
    implied = rate * max(0.0, seconds_per_image - reference_seconds)
    unaccounted = implied > RATIO * max(counted_macs, 1)
    return {"machine_macs_per_s": rate, "seconds_per_image": seconds_per_image, "seconds_per_image_reference": reference_seconds,
            "implied_macs": implied, "counted_macs": counted_macs, "ratio": implied / counted_macs if counted_macs else None,
            "verdict": "unaccounted" if unaccounted else "accounted",
            "rule": f"unaccounted when (seconds/image − the reference graph's) × machine MAC/s > {RATIO:g} × counted MACs; "
                    "advisory"}
