"""Roofline cross-check: is the time a model takes explained by the compute the counters found?

The measurer measures this machine's multiply-add rate once (an fp32 matrix product at the scoring thread
count, before it loads a program; cached per machine, threads and torch version). The accuracy
pass gives the *marginal* seconds per image: each batch's forward time less one batch-1 call (the
per-call overhead), divided by the images after the first, the smallest over the batches (a batch slowed
by another process sharing the cores is not evidence). Their product is the most multiply-adds that
time could hold: a model whose time holds far more than any multiply-add counter found (`RATIO` times,
and `MARGIN_MACS` per image more) runs compute no counter sees (a compiled extension, a custom operator,
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
MARGIN_MACS = 50e6
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


def check(rate: float, seconds_per_image: float, counted_macs: int) -> dict:
    """The two numbers and the verdict: `unaccounted` when the time holds far more compute than was counted."""
    implied = rate * seconds_per_image
    unaccounted = implied > RATIO * counted_macs and implied - counted_macs > MARGIN_MACS
    return {"machine_macs_per_s": rate, "seconds_per_image": seconds_per_image, "implied_macs": implied,
            "counted_macs": counted_macs, "ratio": implied / counted_macs if counted_macs else None,
            "verdict": "unaccounted" if unaccounted else "accounted",
            "rule": f"flag when seconds/image × machine MAC/s > {RATIO:g} × counted MACs and exceeds them by "
                    f"{MARGIN_MACS / 1e6:g} M"}
